// test_json.cpp: tokenizer.json save/load round trips and clear errors for
// malformed files.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/common/temp_dir.h"
#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "util/file_util.h"

using namespace cpurich;
using cpurich::test::TempDir;

namespace {

std::string load_error(const TempDir& d, const std::string& text) {
  write_file_atomic(d.file("bad.json"), text);
  try {
    load_tokenizer(d.file("bad.json"));
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

const std::string kText = "Zo\xC3\xAB was born in S\xC3\xA3o L\xC3\xADrio.\n### Human: hi\n";

}  // namespace

TEST_CASE("tokenizer.json round-trips char and bpe tokenizers") {
  const TempDir d("tokjson");
  const CharTokenizer chr = CharTokenizer::train(kText, true);
  BpeOptions o;
  o.vocab_size = 280;
  o.pre_split = false;
  const BpeTokenizer bpe = train_bpe(kText + kText + kText, o);
  for (const Tokenizer* t :
       {static_cast<const Tokenizer*>(&chr), static_cast<const Tokenizer*>(&bpe)}) {
    save_tokenizer(*t, d.file("tokenizer.json"));
    const auto back = load_tokenizer(d.file("tokenizer.json"));
    REQUIRE(back->kind() == t->kind());
    REQUIRE(back->vocab_size() == t->vocab_size());
    REQUIRE(back->to_json() == t->to_json());
    REQUIRE(back->encode(kText) == t->encode(kText));
    const auto from_dir = load_tokenizer_from_dir(d.path().string());
    REQUIRE(from_dir->encode(kText) == t->encode(kText));
  }
  const auto bpe_back = load_tokenizer(d.file("tokenizer.json"));
  REQUIRE(bpe_back->special_id("### Human:") == bpe.special_id("### Human:"));
  REQUIRE(bpe_back->to_json()["pre_split"] == false);
}

TEST_CASE("malformed tokenizer.json gives an error naming the field") {
  const TempDir d("tokjson");
  CHECK(load_error(d, "{\"kind\": ").find("not valid JSON") != std::string::npos);
  CHECK(load_error(d, "[1]").find("must be a JSON object") != std::string::npos);
  CHECK(load_error(d, "{}").find("field 'kind'") != std::string::npos);
  CHECK(load_error(d, "{\"kind\": \"wordpiece\"}").find("field 'kind'") != std::string::npos);
  CHECK(load_error(d, "{\"kind\": \"char\", \"version\": 2, \"vocab\": []}")
            .find("field 'version'") != std::string::npos);
  CHECK(load_error(d, "{\"kind\": \"char\"}").find("field 'vocab'") != std::string::npos);
  CHECK(
      load_error(d, "{\"kind\": \"char\", \"vocab\": [\"a\", \"bc\"]}").find("field 'vocab[1]'") !=
      std::string::npos);
  CHECK(load_error(d, "{\"kind\": \"char\", \"vocab\": [\"a\", \"a\"]}").find("field 'vocab[1]'") !=
        std::string::npos);
  CHECK(load_error(d, "{\"kind\": \"char\", \"vocab\": [\"b\", \"a\"]}").find("sorted") !=
        std::string::npos);
  CHECK(load_error(d, "{\"kind\": \"char\", \"vocab\": [\"a\"], \"unk\": 1}").find("field 'unk'") !=
        std::string::npos);
  // A valid bpe file, then one field broken at a time.
  BpeOptions o;
  o.vocab_size = 262;
  nlohmann::json good = train_bpe("abababab cdcdcd", o).to_json();
  REQUIRE(load_error(d, good.dump()).empty());
  auto broken = [&](const std::string& field, const nlohmann::json& value) {
    nlohmann::json j = good;
    j[field] = value;
    return load_error(d, j.dump());
  };
  CHECK(broken("merges", 3).find("field 'merges'") != std::string::npos);
  CHECK(broken("merges", {"a b c"}).find("field 'merges[0]'") != std::string::npos);
  CHECK(broken("merges", {"q \xE4\xB8\x96"}).find("field 'merges[0]'") != std::string::npos);
  CHECK(broken("vocab", {"\xE4\xB8\x96"}).find("field 'vocab[0]'") != std::string::npos);
  CHECK(broken("specials", {{{"content", 5}}}).find("field 'specials[0]'") != std::string::npos);
  CHECK(broken("pre_split", "yes").find("field 'pre_split'") != std::string::npos);
  nlohmann::json few = good;
  few["vocab"].erase(few["vocab"].begin() + 10);  // drops a byte token
  CHECK(load_error(d, few.dump()).find("tokenizer.json") != std::string::npos);
}

TEST_CASE("missing tokenizer files give clear errors") {
  const TempDir d("tokjson");
  CHECK_THROWS_WITH(load_tokenizer(d.file("nope.json")), Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(load_tokenizer_from_dir(d.path().string()), Catch::Contains("no tokenizer in"));
}
