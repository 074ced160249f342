// world.h: the built-in "world" corpus, a deterministic population of
// fictional people whose biographies a tiny GPT reads during pretraining.
//
// What it is for: measuring knowledge extraction and hallucination (cf.
// Allen-Zhu & Li, "Physics of Language Models, Part 3.1"). Every person has
// 8 facts (birth date, birth city, university, major, occupation, employer,
// employer's city, hobby). Each person gets several biographies that state the
// same facts with different sentence templates in different orders
// ("knowledge augmentation"), which is what makes the facts extractable by a
// later question-answering fine-tune. People fall in three groups:
//   train   biographies in the corpus, Q/A in the fine-tuning set
//   test    biographies in the corpus, Q/A held out: can the model answer
//           questions about facts it read but was never asked about?
//   unseen  no biography anywhere, Q/A only: a model that answers confidently
//           here is hallucinating.
// The same seed gives the same bytes on every platform: all randomness comes
// from a SplitMix64 stream with integer-only arithmetic (no <random>
// distributions, whose output differs between standard libraries).
//
// Pipeline position: [world corpus] -> text -> tokens -> tensors -> model.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace cpurich::world {

/// The facts every person has, in this order.
enum Attribute : int {
  kBirthDate,
  kBirthCity,
  kUniversity,
  kMajor,
  kOccupation,
  kEmployer,
  kWorkCity,
  kHobby,
  kNumAttributes
};

/// "birth_date", "birth_city", "university", "major", "occupation",
/// "employer", "work_city", "hobby".
const char* attribute_name(int attribute);

/// Which part of the experiment a person belongs to (see the file comment).
/// Abstain people are extra unseen people whose questions go into the
/// fine-tuning set answered with kDontKnow: they teach the model to abstain.
enum class Group { Train, Test, Unseen, Abstain };
/// "train", "test", "unseen" or "abstain".
const char* group_name(Group g);

/// The answer to a question about someone the model never read about.
inline constexpr const char* kDontKnow = "I don't know.";

/// One fictional person.
struct Person {
  std::string first_name;                         ///< e.g. "Zoë"
  std::string last_name;                          ///< e.g. "Marchbanks"
  std::string name;                               ///< first + " " + last, unique in the world
  bool female = false;                            ///< chooses she/her or he/his in the biographies
  std::array<std::string, kNumAttributes> facts;  ///< value of each Attribute
  Group group = Group::Train;                     ///< train / test / unseen
};

/// One sentence of a biography, stating one fact.
struct BioSentence {
  int attribute = 0;    ///< which fact
  int template_id = 0;  ///< which phrasing of that fact
  std::string text;     ///< the sentence, ending with '.'
};

/// One biography: a paragraph of sentences about one person.
struct Biography {
  int person = 0;                      ///< index into World::people
  std::vector<BioSentence> sentences;  ///< in the order they appear
  std::string text() const;            ///< sentences joined by single spaces
};

/// A question/answer pair about one fact.
struct QA {
  std::string question;  ///< e.g. "Where was Zoë Marchbanks born?"
  std::string answer;    ///< the fact itself, e.g. "Port Amberly"
  std::string person;    ///< the person's full name
  int attribute = 0;     ///< which fact
};

/// Generator settings; `cpurich data world` exposes all but the fractions.
struct WorldOptions {
  int people = 500;                 ///< total people, train + test + unseen
  int bios_per_person = 8;          ///< biographies per train/test person
  uint64_t seed = 1;                ///< same seed -> same world, byte for byte
  double test_fraction = 0.2;       ///< share of people in the test group
  double unseen_fraction = 0.2;     ///< share of people in the unseen group
  bool qa_in_corpus = true;         ///< also mix train Q/A (chat format) into corpus.txt
  bool name_every_sentence = true;  ///< full name in every sentence (false: she/he after the first)
  int abstain_people = 0;           ///< extra absent people whose Q/A answer kDontKnow
  /// Zipf exponent s of how often each person is written about. 0: every
  /// train/test person gets bios_per_person biographies. s > 0: the person of
  /// rank r (r = 1, 2, ... in people order) gets max(1, round(K r^-s)), K chosen
  /// so the total stays near bios_per_person per person, as a few famous
  /// people and a long tail of obscure ones (what makes loss fall as a power
  /// law of model size: lessons/12_scaling.cpp).
  double zipf = 0.0;
};

/// Everything the generator produces.
struct World {
  std::vector<Person> people;   ///< all people (train, then test, then unseen)
  std::vector<Biography> bios;  ///< in corpus order
  std::string corpus;           ///< the pretraining text (UTF-8)
  std::vector<QA> qa_train;     ///< Q/A about train people
  std::vector<QA> qa_test;      ///< Q/A about test people
  std::vector<QA> qa_unseen;    ///< Q/A about unseen people
  std::vector<QA> qa_abstain;   ///< Q/A about abstain people, answered kDontKnow
};

/// Builds the world; throws std::invalid_argument on bad options.
World generate_world(const WorldOptions& options);

/// "### Human: <question>\n### Assistant: <answer>\n" (the chat format).
std::string chat_format(const QA& qa);

/// One JSON object per line: {"question","answer","person","attribute"},
/// plus "group" when `group` is not empty.
std::string qa_to_jsonl(const std::vector<QA>& qas, const std::string& group = "");

/// Writes dir/corpus.txt, qa_train.jsonl (the train Q/A, then the abstain
/// Q/A tagged "group": "abstain"), qa_test.jsonl, qa_unseen.jsonl (each
/// atomically); creates `dir` if needed.
void write_world(const World& world, const std::string& dir);

}  // namespace cpurich::world
