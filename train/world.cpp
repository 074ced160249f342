// world.cpp: generating the world (see world.h). Steps: draw people with
// unique names and their facts; split them into train / test / unseen; write
// bios_per_person biographies for each train and test person (or a Zipf
// share of them: bio_counts) (each fact with
// a different template in each biography, sentences in a random order);
// shuffle all biographies into one corpus (so a person's paraphrases land far
// apart and never share a context window); render one question per fact.
#include "train/world.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "train/world_text.h"
#include "train/world_words.h"
#include "util/file_util.h"

namespace cpurich::world {

namespace {

// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit counter pushed through a
// mixing function. Only integer arithmetic, so identical on every platform.
class Stream {
 public:
  Stream(uint64_t seed, uint64_t purpose) : state_(seed * 0x9E3779B97F4A7C15ULL + purpose) {
    next();
  }
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n): reject the top sliver of draws so every residue is
  // equally likely (plain `next() % n` would favour small values).
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;  // a multiple of n
    for (;;) {
      const uint64_t x = next();
      if (x < limit) return x % n;
    }
  }
  template <typename T>
  const T& pick(std::span<const T> items) {
    return items[below(items.size())];
  }
  template <typename T>
  void shuffle(std::vector<T>& v) {  // Fisher-Yates
    for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

 private:
  uint64_t state_;
};

// Independent streams per purpose, so e.g. changing bios_per_person does not
// change who the people are.
enum Purpose : uint64_t { kPeople = 1, kBios = 2, kCorpus = 3, kQuestions = 4, kAbstain = 5 };

std::string birth_date(Stream& rng) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int year = 1950 + static_cast<int>(rng.below(55));
  const int month = static_cast<int>(rng.below(12));
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const int days = kDays[month] + (month == 1 && leap ? 1 : 0);
  const int day = 1 + static_cast<int>(rng.below(days));
  return std::string(month_names()[month]) + " " + std::to_string(day) + ", " +
         std::to_string(year);
}

Person make_person(Stream& rng, std::set<std::string>& used_names) {
  Person p;
  for (;;) {
    p.female = rng.below(2) == 0;
    p.first_name = rng.pick(p.female ? female_first_names() : male_first_names());
    p.last_name = rng.pick(last_names());
    p.name = p.first_name + " " + p.last_name;
    if (used_names.insert(p.name).second) break;  // full names are unique
  }
  p.facts[kBirthDate] = birth_date(rng);
  p.facts[kBirthCity] = rng.pick(cities());
  p.facts[kUniversity] = rng.pick(universities());
  p.facts[kMajor] = rng.pick(majors());
  p.facts[kOccupation] = rng.pick(occupations());
  const Company& c = rng.pick(companies());
  p.facts[kEmployer] = c.name;
  p.facts[kWorkCity] = c.city;
  p.facts[kHobby] = rng.pick(hobbies());
  return p;
}

void check_options(const WorldOptions& o) {
  const std::size_t max_people =
      (female_first_names().size() + male_first_names().size()) * last_names().size() / 2;
  if (o.people < 1 || static_cast<std::size_t>(o.people) > max_people) {
    throw std::invalid_argument("world: people must be in [1, " + std::to_string(max_people) + "]");
  }
  if (o.abstain_people < 0 || static_cast<std::size_t>(o.people + o.abstain_people) > max_people) {
    throw std::invalid_argument("world: people + abstain people must be <= " +
                                std::to_string(max_people));
  }
  if (o.bios_per_person < 1 || o.bios_per_person > 100) {
    throw std::invalid_argument("world: bios per person must be in [1, 100]");
  }
  if (!(o.zipf >= 0 && o.zipf <= 4)) throw std::invalid_argument("world: zipf must be in [0, 4]");
  if (!(o.test_fraction >= 0 && o.unseen_fraction >= 0 &&
        o.test_fraction + o.unseen_fraction <= 1)) {
    throw std::invalid_argument("world: test and unseen fractions must be >= 0 and sum to <= 1");
  }
}

// One biography: each fact with template (first_template[a] + k) mod T, so the
// k-th biographies of a person all use different phrasings; random order; the
// first sentence names the person, later ones the full name too when
// `every` (else 1 time in 4, she/he otherwise).
Biography make_bio(int person_index, const Person& p, int k,
                   const std::array<int, kNumAttributes>& first, bool every, Stream& rng) {
  std::vector<int> order(kNumAttributes);
  for (int a = 0; a < kNumAttributes; ++a) order[a] = a;
  rng.shuffle(order);
  Biography bio;
  bio.person = person_index;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const int a = order[i];
    const int t = (first[a] + k) % num_sentence_templates(a);
    // The coin is drawn as before even when `every`: the option changes only the text.
    const bool use_name = i == 0 || rng.below(4) == 0 || every;
    bio.sentences.push_back({a, t, render_sentence(p, a, t, use_name)});
  }
  return bio;
}

std::vector<QA> make_qa(const std::vector<Person>& people, Group g, Stream& rng) {
  std::vector<QA> out;
  for (const Person& p : people) {
    if (p.group != g) continue;
    for (int a = 0; a < kNumAttributes; ++a) {
      const int t = static_cast<int>(rng.below(num_question_templates(a)));
      out.push_back(
          {render_question(p, a, t), g == Group::Abstain ? kDontKnow : p.facts[a], p.name, a});
    }
  }
  return out;
}

// Biographies per written-about person (n of them). Zipf: c_r = max(1,
// round(K r^-s)) with K = bios_per_person * n / sum_r r^-s, so sum_r c_r is
// about bios_per_person * n (the floor of 1 adds a little in the tail).
// std::pow may differ between C libraries by an ulp; that changes a count only
// if K r^-s falls within an ulp of a half-integer. s = 0 uses no floating point.
std::vector<int> bio_counts(const WorldOptions& o, int n) {
  std::vector<int> counts(static_cast<std::size_t>(n), o.bios_per_person);
  if (o.zipf == 0.0) return counts;
  double h = 0.0;
  for (int r = 1; r <= n; ++r) h += std::pow(r, -o.zipf);
  const double k = o.bios_per_person * static_cast<double>(n) / h;
  for (int r = 1; r <= n; ++r)
    counts[r - 1] = std::max(1, static_cast<int>(std::lround(k * std::pow(r, -o.zipf))));
  return counts;
}

}  // namespace

const char* attribute_name(int attribute) {
  static constexpr const char* kNames[kNumAttributes] = {"birth_date", "birth_city", "university",
                                                         "major",      "occupation", "employer",
                                                         "work_city",  "hobby"};
  if (attribute < 0 || attribute >= kNumAttributes) throw std::out_of_range("world: bad attribute");
  return kNames[attribute];
}

const char* group_name(Group g) {
  return g == Group::Train    ? "train"
         : g == Group::Test   ? "test"
         : g == Group::Unseen ? "unseen"
                              : "abstain";
}

std::string Biography::text() const {
  std::string out;
  for (const BioSentence& s : sentences) {
    if (!out.empty()) out += ' ';
    out += s.text;
  }
  return out;
}

std::string chat_format(const QA& qa) {
  return "### Human: " + qa.question + "\n### Assistant: " + qa.answer + "\n";
}

World generate_world(const WorldOptions& o) {
  check_options(o);
  World w;
  Stream people_rng(o.seed, kPeople), bio_rng(o.seed, kBios), corpus_rng(o.seed, kCorpus),
      qa_rng(o.seed, kQuestions), abstain_rng(o.seed, kAbstain);
  std::set<std::string> used;
  const auto n_test = static_cast<int>(std::lround(o.people * o.test_fraction));
  const auto n_unseen = static_cast<int>(std::lround(o.people * o.unseen_fraction));
  const int n_train = o.people - n_test - n_unseen;
  for (int i = 0; i < o.people; ++i) {
    w.people.push_back(make_person(people_rng, used));
    w.people.back().group = i < n_train            ? Group::Train
                            : i < n_train + n_test ? Group::Test
                                                   : Group::Unseen;
  }
  // Abstain people come after everyone else from the same name pool, so they
  // are never anyone in the corpus and adding them changes no one else.
  for (int i = 0; i < o.abstain_people; ++i) {
    w.people.push_back(make_person(people_rng, used));
    w.people.back().group = Group::Abstain;
  }
  const std::vector<int> counts = bio_counts(o, n_train + n_test);
  for (int i = 0; i < n_train + n_test; ++i) {
    std::array<int, kNumAttributes> first{};
    for (int a = 0; a < kNumAttributes; ++a)
      first[a] = static_cast<int>(bio_rng.below(num_sentence_templates(a)));
    for (int k = 0; k < counts[i]; ++k)
      w.bios.push_back(make_bio(i, w.people[i], k, first, o.name_every_sentence, bio_rng));
  }
  corpus_rng.shuffle(w.bios);
  w.qa_train = make_qa(w.people, Group::Train, qa_rng);
  w.qa_test = make_qa(w.people, Group::Test, qa_rng);
  w.qa_unseen = make_qa(w.people, Group::Unseen, qa_rng);
  w.qa_abstain = make_qa(w.people, Group::Abstain, abstain_rng);
  // The corpus: paragraphs separated by blank lines. Optionally the train
  // Q/A blocks are shuffled in among the biographies ("mixed training").
  std::vector<std::string> blocks;
  for (const Biography& b : w.bios) blocks.push_back(b.text() + "\n");
  if (o.qa_in_corpus) {
    for (const QA& qa : w.qa_train) blocks.push_back(chat_format(qa));
    corpus_rng.shuffle(blocks);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    if (i > 0) w.corpus += '\n';
    w.corpus += blocks[i];
  }
  return w;
}

std::string qa_to_jsonl(const std::vector<QA>& qas, const std::string& group) {
  std::string out;
  for (const QA& qa : qas) {
    nlohmann::json j = {{"question", qa.question},
                        {"answer", qa.answer},
                        {"person", qa.person},
                        {"attribute", attribute_name(qa.attribute)}};
    if (!group.empty()) j["group"] = group;
    out += j.dump() + "\n";
  }
  return out;
}

void write_world(const World& world, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) throw std::runtime_error("cannot create directory " + dir);
  const fs::path d(dir);
  write_file_atomic((d / "corpus.txt").string(), world.corpus);
  write_file_atomic((d / "qa_train.jsonl").string(),
                    qa_to_jsonl(world.qa_train) + qa_to_jsonl(world.qa_abstain, "abstain"));
  write_file_atomic((d / "qa_test.jsonl").string(), qa_to_jsonl(world.qa_test));
  write_file_atomic((d / "qa_unseen.jsonl").string(), qa_to_jsonl(world.qa_unseen));
}

}  // namespace cpurich::world
