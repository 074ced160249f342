// test_world.cpp: the world corpus generator: determinism, facts stated in
// several phrasings, unseen people kept out of the corpus, Q/A files.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "tokenizer/utf8.h"
#include "train/world.h"
#include "train/world_words.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::world;

namespace {

WorldOptions small(uint64_t seed = 1) {
  WorldOptions o;
  o.people = 100;
  o.bios_per_person = 5;
  o.seed = seed;
  o.qa_in_corpus = false;  // biographies only: every paragraph is one biography
  return o;
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (static_cast<unsigned char>(c) >= 0x80);
}

// Occurrences of `name` as whole words (not inside a longer name).
std::size_t count_word(std::string_view text, std::string_view name) {
  std::size_t n = 0;
  for (std::size_t at = text.find(name); at != std::string_view::npos;
       at = text.find(name, at + 1)) {
    const bool left_ok = at == 0 || !is_name_char(text[at - 1]);
    const bool right_ok = at + name.size() == text.size() || !is_name_char(text[at + name.size()]);
    if (left_ok && right_ok) ++n;
  }
  return n;
}

std::vector<std::string> paragraphs(const std::string& corpus) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < corpus.size()) {
    std::size_t end = corpus.find("\n\n", pos);
    if (end == std::string::npos) end = corpus.size();
    out.push_back(corpus.substr(pos, end - pos));
    pos = end + 2;
  }
  return out;
}

}  // namespace

TEST_CASE("world is deterministic for a seed and differs across seeds") {
  REQUIRE(WorldOptions{}.qa_in_corpus);  // the default mixes train Q/A into the corpus
  const World a = generate_world(small(1)), b = generate_world(small(1)),
              c = generate_world(small(2));
  WorldOptions mixed = small(1);
  mixed.qa_in_corpus = true;
  REQUIRE(generate_world(mixed).corpus == generate_world(mixed).corpus);
  REQUIRE(a.corpus == b.corpus);
  REQUIRE(qa_to_jsonl(a.qa_test) == qa_to_jsonl(b.qa_test));
  REQUIRE(a.corpus != c.corpus);
  REQUIRE(a.people[0].name != c.people[0].name);
  // Changing only the number of biographies keeps the same people.
  WorldOptions more = small(1);
  more.bios_per_person = 2;
  REQUIRE(generate_world(more).people[5].facts == a.people[5].facts);
}

TEST_CASE("world groups, unique names and valid UTF-8") {
  const World w = generate_world(small());
  std::map<Group, int> sizes;
  std::set<std::string> names;
  for (const Person& p : w.people) {
    ++sizes[p.group];
    names.insert(p.name);
    REQUIRE(p.name == p.first_name + " " + p.last_name);
  }
  REQUIRE(names.size() == w.people.size());
  REQUIRE(sizes[Group::Train] == 60);
  REQUIRE(sizes[Group::Test] == 20);
  REQUIRE(sizes[Group::Unseen] == 20);
  REQUIRE(w.bios.size() == 80u * 5u);
  REQUIRE(utf8::is_valid(w.corpus));
  REQUIRE(w.corpus.find("\xC3") != std::string::npos);  // some non-ASCII names or cities
  REQUIRE(w.corpus.find("\n\n\n") == std::string::npos);
  REQUIRE(w.corpus.back() == '\n');
}

TEST_CASE("every fact of a train/test person appears in the corpus in >= 2 phrasings") {
  const World w = generate_world(small());
  // 1. From the text alone: each person with biographies has exactly 5
  //    paragraphs naming them, and each paragraph states all 8 facts.
  std::map<std::string, std::vector<std::string>> paras_of;
  for (const std::string& para : paragraphs(w.corpus)) {
    int owners = 0;
    for (const Person& p : w.people) {
      if (count_word(para, p.name) == 0) continue;
      ++owners;
      paras_of[p.name].push_back(para);
      for (const std::string& fact : p.facts) REQUIRE(para.find(fact) != std::string::npos);
    }
    REQUIRE(owners == 1);
  }
  // 2. From the generator's record: the sentences stating each fact use
  //    >= 2 templates and >= 2 different texts, and all are in the corpus.
  std::map<std::pair<int, int>, std::set<int>> templates;
  std::map<std::pair<int, int>, std::set<std::string>> texts;
  for (const Biography& b : w.bios) {
    for (const BioSentence& s : b.sentences) {
      REQUIRE(s.text.find(w.people[b.person].facts[s.attribute]) != std::string::npos);
      templates[{b.person, s.attribute}].insert(s.template_id);
      texts[{b.person, s.attribute}].insert(s.text);
    }
    REQUIRE(w.corpus.find(b.text()) != std::string::npos);
  }
  for (std::size_t i = 0; i < w.people.size(); ++i) {
    const Person& p = w.people[i];
    if (p.group == Group::Unseen) continue;
    REQUIRE(paras_of[p.name].size() == 5);
    for (int a = 0; a < kNumAttributes; ++a) {
      REQUIRE(templates[{static_cast<int>(i), a}].size() >= 2);
      REQUIRE(texts[{static_cast<int>(i), a}].size() >= 2);
    }
  }
}

TEST_CASE("no unseen person's name appears in the corpus or the train/test Q/A") {
  const World w = generate_world(small());
  const std::string seen_qa = qa_to_jsonl(w.qa_train) + qa_to_jsonl(w.qa_test);
  int unseen = 0;
  for (const Person& p : w.people) {
    if (p.group != Group::Unseen) continue;
    ++unseen;
    REQUIRE(count_word(w.corpus, p.name) == 0);
    REQUIRE(count_word(seen_qa, p.name) == 0);
  }
  REQUIRE(unseen == 20);
}

TEST_CASE("Q/A JSONL parses and matches the person's facts") {
  const World w = generate_world(small());
  std::map<std::string, const Person*> by_name;
  for (const Person& p : w.people) by_name[p.name] = &p;
  const std::vector<std::pair<const std::vector<QA>*, Group>> sets = {
      {&w.qa_train, Group::Train}, {&w.qa_test, Group::Test}, {&w.qa_unseen, Group::Unseen}};
  for (const auto& [qas, group] : sets) {
    std::istringstream lines(qa_to_jsonl(*qas));
    std::string line;
    std::size_t n = 0;
    while (std::getline(lines, line)) {
      const nlohmann::json j = nlohmann::json::parse(line);
      const Person& p = *by_name.at(j.at("person").get<std::string>());
      REQUIRE(p.group == group);
      int attribute = -1;
      for (int a = 0; a < kNumAttributes; ++a) {
        if (j.at("attribute").get<std::string>() == attribute_name(a)) attribute = a;
      }
      REQUIRE(attribute >= 0);
      REQUIRE(j.at("answer").get<std::string>() == p.facts[attribute]);
      REQUIRE(j.at("question").get<std::string>().find(p.name) != std::string::npos);
      ++n;
    }
    REQUIRE(n == qas->size());
    REQUIRE(n == 20u * kNumAttributes * (group == Group::Train ? 3 : 1));
  }
  REQUIRE(chat_format(w.qa_train[0]) == "### Human: " + w.qa_train[0].question +
                                            "\n### Assistant: " + w.qa_train[0].answer + "\n");
}

TEST_CASE("world files are written and Q/A can be mixed into the corpus") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cpurich_world_" + std::to_string(::getpid()));
  WorldOptions o = small();
  o.qa_in_corpus = true;
  const World w = generate_world(o);
  write_world(w, (dir / "sub").string());
  REQUIRE(read_file((dir / "sub" / "corpus.txt").string()) == w.corpus);
  REQUIRE(read_file((dir / "sub" / "qa_unseen.jsonl").string()) == qa_to_jsonl(w.qa_unseen));
  std::filesystem::remove_all(dir);
  REQUIRE(w.corpus.find(chat_format(w.qa_train[7])) != std::string::npos);
  REQUIRE(w.corpus.find(chat_format(w.qa_test[0])) == std::string::npos);
  REQUIRE(generate_world(small()).corpus.find("### Human:") == std::string::npos);
  // The Q/A blocks are paragraphs of their own, between biographies.
  std::size_t qa_blocks = 0;
  for (const std::string& para : paragraphs(w.corpus)) {
    if (para.starts_with("### Human: ")) {
      ++qa_blocks;
      REQUIRE(para.find("\n### Assistant: ") != std::string::npos);
    }
  }
  REQUIRE(qa_blocks == w.qa_train.size());
}

TEST_CASE("world word lists are consistent and bad options are rejected") {
  std::set<std::string_view> cities(world::cities().begin(), world::cities().end());
  REQUIRE(cities.size() == world::cities().size());
  for (const Company& c : companies()) REQUIRE(cities.count(c.city) == 1);
  std::set<std::string_view> last(last_names().begin(), last_names().end());
  REQUIRE(last.size() == last_names().size());
  WorldOptions o = small();
  o.people = 0;
  CHECK_THROWS_AS(generate_world(o), std::invalid_argument);
  o = small();
  o.bios_per_person = 0;
  CHECK_THROWS_AS(generate_world(o), std::invalid_argument);
  o = small();
  o.test_fraction = 0.9;
  CHECK_THROWS_AS(generate_world(o), std::invalid_argument);
}

TEST_CASE("zipf 0 keeps the world byte for byte and zipf > 0 gives decreasing biography counts") {
  // FNV-1a of the default corpus, as generated before the zipf option existed.
  const auto fnv = [](const std::string& s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
    return h;
  };
  WorldOptions plain;
  REQUIRE(plain.zipf == 0.0);
  REQUIRE(fnv(generate_world(plain).corpus) == 0x0703af7826c5c066ULL);
  plain.qa_in_corpus = false;
  REQUIRE(fnv(generate_world(plain).corpus) == 0xedd91af8011f4017ULL);

  WorldOptions z = small();
  z.zipf = 1.0;
  const World w = generate_world(z), flat = generate_world(small());
  std::map<int, int> count;  // person -> biographies
  for (const Biography& b : w.bios) ++count[b.person];
  const int written = static_cast<int>(count.size());
  REQUIRE(written == static_cast<int>(std::count_if(w.people.begin(), w.people.end(), [](auto& p) {
            return p.group == Group::Train || p.group == Group::Test;
          })));  // everyone written about keeps at least one biography
  for (int i = 1; i < written; ++i) REQUIRE(count[i] <= count[i - 1]);
  REQUIRE(count[0] >= 5 * count[written - 1]);  // a head and a tail, not a flat world
  // about the same total as bios_per_person each (rounding; the floor of 1 adds a little)
  REQUIRE(w.bios.size() >= flat.bios.size() * 9 / 10);
  REQUIRE(w.bios.size() <= flat.bios.size() * 5 / 4);
  REQUIRE(w.people[3].facts == flat.people[3].facts);  // same people
  z.zipf = -1.0;
  CHECK_THROWS_AS(generate_world(z), std::invalid_argument);
}
