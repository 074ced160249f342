// test_world_knowledge.cpp: the world options that make knowledge learnable
// and measurable: the full name in every sentence, biographies shuffled
// across people, abstention examples about people absent from the corpus.
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "infer/qa_eval.h"
#include "train/world.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::world;

namespace {

WorldOptions small() {
  WorldOptions o;
  o.people = 100;
  o.bios_per_person = 4;
  o.qa_in_corpus = false;
  return o;
}

}  // namespace

TEST_CASE("name_every_sentence puts the full name in every sentence, --pronouns does not") {
  WorldOptions o = small();
  const World named = generate_world(o);
  for (const Biography& b : named.bios)
    for (const BioSentence& s : b.sentences)
      REQUIRE(s.text.find(named.people[b.person].name) != std::string::npos);
  o.name_every_sentence = false;
  const World pron = generate_world(o);
  int without_name = 0;
  for (const Biography& b : pron.bios)
    for (const BioSentence& s : b.sentences)
      without_name += s.text.find(pron.people[b.person].name) == std::string::npos;
  REQUIRE(without_name > 0);
  // Same people, same sentence order and templates: only the subject differs.
  REQUIRE(pron.bios.size() == named.bios.size());
  for (std::size_t i = 0; i < pron.bios.size(); ++i) {
    REQUIRE(pron.bios[i].person == named.bios[i].person);
    for (std::size_t k = 0; k < pron.bios[i].sentences.size(); ++k)
      REQUIRE(pron.bios[i].sentences[k].template_id == named.bios[i].sentences[k].template_id);
  }
}

TEST_CASE("shuffling keeps every biography and separates a person's paraphrases") {
  const World w = generate_world(small());
  // Every train/test person has exactly bios_per_person biographies in the corpus.
  std::map<int, int> count;
  for (const Biography& b : w.bios) {
    ++count[b.person];
    REQUIRE(w.corpus.find(b.text() + "\n") != std::string::npos);
  }
  int with_bios = 0;
  for (std::size_t i = 0; i < w.people.size(); ++i) {
    const bool has = w.people[i].group == Group::Train || w.people[i].group == Group::Test;
    with_bios += has;
    REQUIRE(count[static_cast<int>(i)] == (has ? 4 : 0));
  }
  REQUIRE(w.bios.size() == static_cast<std::size_t>(with_bios) * 4);
  // The corpus is not person-major: most neighbouring biographies belong to
  // different people (in generation order every neighbour pair but one in 4
  // would share a person).
  int same = 0;
  for (std::size_t i = 1; i < w.bios.size(); ++i) same += w.bios[i].person == w.bios[i - 1].person;
  REQUIRE(same * 10 < static_cast<int>(w.bios.size()));
}

TEST_CASE("abstain people: absent from the corpus, answered 'I don't know.', others unchanged") {
  WorldOptions o = small();
  o.qa_in_corpus = true;
  const World base = generate_world(o);
  o.abstain_people = 30;
  const World w = generate_world(o);
  REQUIRE(base.corpus == w.corpus);  // adding them changes no one else
  REQUIRE(base.qa_train.size() == w.qa_train.size());
  REQUIRE(w.qa_abstain.size() == 30u * kNumAttributes);
  std::set<std::string> abstain_names, other_names;
  for (const Person& p : w.people)
    (p.group == Group::Abstain ? abstain_names : other_names).insert(p.name);
  REQUIRE(abstain_names.size() == 30);
  for (const QA& qa : w.qa_abstain) {
    REQUIRE(qa.answer == kDontKnow);
    REQUIRE(abstain_names.count(qa.person) == 1);
    REQUIRE(other_names.count(qa.person) == 0);
    REQUIRE(w.corpus.find(qa.person) == std::string::npos);
    REQUIRE(qa.question.find(qa.person) != std::string::npos);
  }
  // Written after the train Q/A in qa_train.jsonl, tagged "group": "abstain".
  const auto dir = std::filesystem::temp_directory_path() / "cpurich_test_world_abstain";
  std::filesystem::remove_all(dir);
  write_world(w, dir.string());
  std::istringstream in(read_file((dir / "qa_train.jsonl").string()));
  std::string line;
  std::size_t train = 0, abstain = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("group")) {
      REQUIRE(j.at("group") == "abstain");
      REQUIRE(j.at("answer") == kDontKnow);
      ++abstain;
    } else {
      REQUIRE(abstain == 0);  // train lines first
      ++train;
    }
  }
  REQUIRE(train == w.qa_train.size());
  REQUIRE(abstain == w.qa_abstain.size());
  std::filesystem::remove_all(dir);
  o.abstain_people = -1;
  REQUIRE_THROWS_AS(generate_world(o), std::invalid_argument);
}

TEST_CASE("the world's abstention is the one qa-eval recognises") {
  REQUIRE(std::string(kDontKnow) == cpurich::kAbstention);
  REQUIRE(is_abstention(kDontKnow));
}
