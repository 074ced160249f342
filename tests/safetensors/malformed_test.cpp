// malformed_test.cpp: every kind of broken safetensors file is rejected with its
// own clear message, and no corruption of a valid file crashes the reader.
// Files are built by hand (safetensors_test_util.h), not by our serializer.
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "nn/safetensors.h"
#include "safetensors_test_util.h"

using Catch::Matchers::Contains;
using cpurich::test::error_of;
using cpurich::test::make_file;
using cpurich::test::u64_le;
using cpurich::test::zeros;

namespace {

/// One header entry, written out as text.
std::string entry(const std::string& dtype, const std::string& shape, int begin, int end) {
  return R"({"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":[)" +
         std::to_string(begin) + "," + std::to_string(end) + "]}";
}

/// A file with one tensor "a" given by its raw entry text and an n-byte buffer.
std::string one(const std::string& entry_text, std::size_t buffer_bytes) {
  return make_file(R"({"a":)" + entry_text + "}", zeros(buffer_bytes));
}

struct Case {
  std::string name;
  std::string bytes;
  std::string expected;  ///< substring the error message must contain
};

std::vector<Case> malformed_cases() {
  const std::string f32x2 = entry("F32", "[2]", 0, 8);
  return {
      // --- the 8-byte length prefix -------------------------------------------
      {"empty file", "", "file is 0 bytes, too short for the 8-byte header length"},
      {"5-byte file", "abcde", "file is 5 bytes, too short"},
      {"huge header length", u64_le(1ull << 62) + "{}",
       "header length 4611686018427387904 exceeds the limit"},
      {"header past end", u64_le(1000) + "{}",
       "header length 1000 runs past the end of the file (10 bytes)"},
      {"zero header length", u64_le(0) + "{}", "header length is 0"},
      // --- the JSON itself ------------------------------------------------------
      {"not JSON", make_file("{not json}", ""), "header is not valid JSON"},
      {"truncated JSON", make_file(R"({"a":)", ""), "unexpected end of input"},
      {"trailing garbage", make_file("{} x", ""), "expected end of input"},
      {"number too large for a double", make_file(R"({"a":{"shape":[1E999]}})", ""),
       "number overflow parsing '1E999'"},
      {"invalid UTF-8", make_file("{\"\xff\":1}", ""), "ill-formed UTF-8"},
      {"header is an array", make_file("[]", ""), "header is not a JSON object (it is array)"},
      {"header is a string", make_file(R"("hi")", ""),
       "header is not a JSON object (it is string)"},
      {"deeply nested",
       make_file(R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}", ""),
       "header nests JSON deeper than 3 levels at byte 7 "},
      {"nested shape", one(entry("F32", "[[2]]", 0, 8), 8),
       "header nests JSON deeper than 3 levels"},
      {"brackets in a name are not nesting", make_file(R"({"[[[{{{":5})", ""),
       "tensor '[[[{{{': entry is not an object"},
      {"duplicate tensor", make_file(R"({"a":)" + f32x2 + R"(,"a":)" + f32x2 + "}", zeros(8)),
       "duplicate key 'a' in the header"},
      {"duplicate field",
       one(R"({"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]})", 8),
       "duplicate key 'dtype' in the header"},
      // --- one entry -------------------------------------------------------------
      {"entry not object", one("5", 0), "tensor 'a': entry is not an object (it is number)"},
      // Names are shown escaped and shortened, so a message stays one short line.
      {"newline in name", make_file(R"({"a\nb":5})", ""),
       R"(tensor 'a\x0ab': entry is not an object)"},
      {"very long name", make_file("{\"" + std::string(5000, 'n') + "\":5}", ""),
       "tensor '" + std::string(80, 'n') + "...': entry is not an object"},
      {"empty name", make_file(R"({"":)" + f32x2 + "}", zeros(8)), "a tensor has an empty name"},
      {"missing dtype", one(R"({"shape":[2],"data_offsets":[0,8]})", 8),
       "tensor 'a': missing key 'dtype'"},
      {"missing shape", one(R"({"dtype":"F32","data_offsets":[0,8]})", 8),
       "tensor 'a': missing key 'shape'"},
      {"missing offsets", one(R"({"dtype":"F32","shape":[2]})", 8),
       "tensor 'a': missing key 'data_offsets'"},
      {"extra key", one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"stride":[1]})", 8),
       "tensor 'a': unexpected key 'stride'"},
      {"dtype not string", one(R"({"dtype":4,"shape":[2],"data_offsets":[0,8]})", 8),
       "tensor 'a': dtype is not a string (it is number)"},
      {"dtype F64", one(entry("F64", "[1]", 0, 8), 8), "tensor 'a': unsupported dtype 'F64'"},
      {"dtype I64", one(entry("I64", "[1]", 0, 8), 8), "unsupported dtype 'I64'"},
      {"dtype lowercase", one(entry("f32", "[2]", 0, 8), 8), "unsupported dtype 'f32'"},
      {"shape not array", one(entry("F32", "{}", 0, 8), 8),
       "tensor 'a': shape is not an array (it is object)"},
      {"shape negative", one(entry("F32", "[2,-3]", 0, 8), 8),
       "tensor 'a': shape[1] is negative (-3)"},
      {"shape fractional", one(entry("F32", "[1.5]", 0, 8), 8), "shape[0] is not an integer (1.5)"},
      {"shape string", one(entry("F32", R"(["2"])", 0, 8), 8),
       "shape[0] is not an integer (\"2\")"},
      {"shape overflow", one(entry("F32", "[4294967296,4294967296]", 0, 8), 8),
       "shape [4294967296,4294967296] has too many elements"},
      {"dim beyond int64", one(entry("F32", "[0,18446744073709551615]", 0, 0), 0),
       "shape [0,18446744073709551615] has too many elements"},
      {"offsets not array", one(R"({"dtype":"F32","shape":[2],"data_offsets":8})", 8),
       "tensor 'a': data_offsets is not an array of two integers (8)"},
      {"three offsets", one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4,8]})", 8),
       "data_offsets is not an array of two integers ([0,4,8])"},
      {"negative offset", one(R"({"dtype":"F32","shape":[2],"data_offsets":[-4,4]})", 8),
       "data_offsets[0] is not a non-negative integer (-4)"},
      {"fractional offset", one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8.0]})", 8),
       "data_offsets[1] is not a non-negative integer (8.0)"},
      {"begin after end", one(entry("F32", "[2]", 8, 0), 8),
       "tensor 'a': data_offsets begin 8 is after end 0"},
      {"end past buffer", one(entry("F32", "[4]", 0, 16), 8),
       "tensor 'a': data_offsets end 16 is past the end of the data buffer (8 bytes)"},
      {"length mismatch", one(entry("F32", "[3]", 0, 8), 8),
       "tensor 'a': data_offsets span 8 bytes but shape (3,) of F32 needs 3 x 4 bytes"},
      {"odd F16 length", one(entry("F16", "[2]", 0, 3), 3),
       "data_offsets span 3 bytes but shape (2,) of F16 needs 2 x 2 bytes"},
      // --- tensors against each other and the buffer ------------------------------
      {"overlap",
       make_file(
           R"({"a":)" + entry("F32", "[2]", 0, 8) + R"(,"b":)" + entry("F32", "[1]", 4, 8) + "}",
           zeros(8)),
       "tensors 'a' and 'b' overlap in the data buffer"},
      {"gap between",
       make_file(
           R"({"a":)" + entry("F32", "[1]", 0, 4) + R"(,"b":)" + entry("F32", "[1]", 8, 12) + "}",
           zeros(12)),
       "gap of 4 unused bytes before tensor 'b'"},
      {"gap at start", one(entry("F32", "[1]", 2, 6), 6),
       "gap of 2 unused bytes before tensor 'a'"},
      {"trailing bytes", one(f32x2, 11), "3 trailing bytes after the last tensor"},
      {"bytes but no tensors", make_file("{}", zeros(5)), "5 trailing bytes after the last tensor"},
      // --- __metadata__ ------------------------------------------------------------
      {"metadata not object", make_file(R"({"__metadata__":["x"]})", ""),
       "__metadata__ is not an object of strings (it is array)"},
      {"metadata value number", make_file(R"({"__metadata__":{"epoch":3}})", ""),
       "__metadata__ value for key 'epoch' is not a string (it is number)"},
  };
}

}  // namespace

TEST_CASE("malformed safetensors files are rejected with distinct messages naming the problem") {
  const auto cases = malformed_cases();
  REQUIRE(cases.size() >= 30);
  std::set<std::string> messages;
  for (const Case& c : cases) {
    INFO("case: " << c.name);
    const std::string message = error_of(c.bytes);
    CHECK_THAT(message, Contains(c.expected));
    // Every message says which file it is about, on one line.
    CHECK_THAT(message, Contains("case.safetensors: "));
    CHECK(message.find('\n') == std::string::npos);
    CHECK(message.size() < 400);
    messages.insert(message);
  }
  // No two different defects share a message: each one tells the reader what is wrong.
  CHECK(messages.size() == cases.size());
}

TEST_CASE("the valid files next to the malformed ones are accepted") {
  // Guards the test above: a case must fail for the defect it names, not for
  // a typo in the surrounding file, so the same shapes without the defect load.
  CHECK(error_of(one(entry("F32", "[2]", 0, 8), 8)) == "<accepted>");
  CHECK(error_of(one(entry("F16", "[2]", 0, 4), 4)) == "<accepted>");
  CHECK(error_of(make_file("{}", "")) == "<accepted>");
  CHECK(error_of(make_file(R"({"__metadata__":{"epoch":"3"}})", "")) == "<accepted>");
  CHECK(error_of(make_file(
            R"({"a":)" + entry("F32", "[1]", 0, 4) + R"(,"b":)" + entry("F32", "[1]", 4, 8) + "}",
            zeros(8))) == "<accepted>");
  // Zero-size tensors take no bytes and may share an offset with anything.
  CHECK(error_of(make_file(
            R"({"a":)" + entry("F32", "[0,3]", 0, 0) + R"(,"b":)" + entry("F32", "[0]", 0, 0) + "}",
            "")) == "<accepted>");
}

TEST_CASE("no truncation or byte corruption of a valid file crashes the reader") {
  const std::string header = R"({"__metadata__":{"k":"v"},"a":)" + entry("F16", "[2,2]", 0, 8) +
                             R"(,"b":)" + entry("F32", "[1]", 8, 12) + "}";
  const std::string file = make_file(header, zeros(12));
  REQUIRE(error_of(file) == "<accepted>");
  // Every prefix: either rejected cleanly (the usual case) or, never here,
  // accepted. error_of reports any exception other than SafetensorsError.
  for (std::size_t n = 0; n < file.size(); ++n)
    CHECK_THAT(error_of(file.substr(0, n)), Contains("case.safetensors: "));
  // Every byte replaced by a few telling values: digits change numbers,
  // quotes and braces break structure, 0xff breaks UTF-8.
  for (std::size_t i = 0; i < file.size(); ++i) {
    for (const char c : {'\0', '9', '"', '}', '\xff', '-'}) {
      std::string bad = file;
      bad[i] = c;
      const std::string message = error_of(bad);
      const bool clean = message == "<accepted>" || message.rfind("case.safetensors: ", 0) == 0;
      if (!clean) FAIL_CHECK("byte " << i << " -> " << int(c) << ": " << message);
    }
  }
}
