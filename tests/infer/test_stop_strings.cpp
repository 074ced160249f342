// Streaming text: stop strings cut the text and are never printed, incomplete
// UTF-8 is held back until its character completes.
#include <catch2/catch.hpp>
#include <string>

#include "infer/stop_strings.h"

using namespace cpurich;

TEST_CASE("utf8_complete_prefix holds back an incomplete trailing character") {
  // U+20AC (euro) is E2 82 AC; U+1F600 (an emoji) is F0 9F 98 80.
  CHECK(utf8_complete_prefix("ab") == 2);
  CHECK(utf8_complete_prefix("ab\xE2\x82\xAC") == 5);
  CHECK(utf8_complete_prefix("ab\xE2\x82") == 2);
  CHECK(utf8_complete_prefix("ab\xE2") == 2);
  CHECK(utf8_complete_prefix("x\xF0\x9F\x98") == 1);
  CHECK(utf8_complete_prefix("x\xF0\x9F\x98\x80") == 5);
}

TEST_CASE("a stop string split over several appends is cut and never streamed") {
  TextStream s({"### Human:"});
  std::string printed;
  for (const char* piece : {"Hello", " there\n##", "# Hu", "man: more"}) {
    s.append(piece);
    printed += s.take_ready();
  }
  CHECK(s.stopped());
  CHECK(s.text() == "Hello there\n");
  printed += s.take_rest();
  CHECK(printed == "Hello there\n");
}

TEST_CASE("a false start of a stop string is released when it cannot match") {
  TextStream s({"STOP"});
  std::string printed;
  s.append("ab ST");
  printed += s.take_ready();
  CHECK(printed == "ab ");  // "ST" might begin "STOP"
  s.append("ay");
  printed += s.take_ready();
  CHECK(printed == "ab STay");
  CHECK_FALSE(s.stopped());
}

TEST_CASE("multi-byte characters are streamed whole") {
  TextStream s;
  s.append("1\xE2\x82");
  CHECK(s.take_ready() == "1");
  s.append("\xAC");
  CHECK(s.take_ready() == "\xE2\x82\xAC");
}

TEST_CASE("the earliest of several stop strings wins") {
  TextStream s({"cd", "b"});
  CHECK(s.append("abcd"));
  CHECK(s.text() == "a");
}
