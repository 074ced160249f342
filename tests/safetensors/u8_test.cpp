// u8_test.cpp: U8 tensors (the bytes of quantized matrices, nn/quant_io.h) are
// written after the F32 tensors and read back byte for byte, not converted to
// float, under the same strict header checks as every other dtype.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/safetensors.h"
#include "safetensors_test_util.h"

using Catch::Matchers::Contains;
using cpurich::SafetensorsError;
using cpurich::Tensor;
using cpurich::test::as_byte_span;
using cpurich::test::error_of;
using cpurich::test::make_file;

TEST_CASE("U8 tensors round-trip byte for byte next to F32 tensors", "[safetensors][u8]") {
  std::vector<std::uint8_t> blocks(37);
  for (std::size_t i = 0; i < blocks.size(); ++i) blocks[i] = static_cast<std::uint8_t>(i * 97 + 5);
  const std::map<std::string, Tensor> f32 = {
      {"b", Tensor::from_vector(std::vector<float>{1.5f, -2.0f, 3.25f}, {3})}};
  const std::map<std::string, std::vector<std::uint8_t>> u8 = {{"a", blocks}, {"z", {255}}};
  const std::string file = cpurich::serialize_safetensors(f32, {{"k", "v"}}, u8);
  const auto parsed = cpurich::parse_safetensors(as_byte_span(file), "u8");
  CHECK(parsed.bytes.at("a") == blocks);
  CHECK(parsed.bytes.at("z") == std::vector<std::uint8_t>{255});
  CHECK(parsed.stored_dtype.at("a") == "U8");
  CHECK(parsed.stored_dtype.at("b") == "F32");
  CHECK(parsed.tensors.count("a") == 0);  // raw bytes are not numbers
  REQUIRE(parsed.tensors.count("b") == 1);
  CHECK(parsed.tensors.at("b").span_f32()[2] == 3.25f);
  CHECK(parsed.metadata.at("k") == "v");
  // Serializing what was read gives the same file.
  CHECK(cpurich::serialize_safetensors(parsed.tensors, parsed.metadata, parsed.bytes) == file);
}

TEST_CASE("U8 tensors keep the strict checks", "[safetensors][u8]") {
  CHECK_THROWS_WITH(
      cpurich::serialize_safetensors({{"a", Tensor::from_vector(std::vector<float>{1.0f}, {1})}},
                                     {}, {{"a", {1, 2}}}),
      Contains("tensor 'a' is given both as f32 and as u8"));
  CHECK_THROWS_AS(cpurich::serialize_safetensors({}, {}, {{"__metadata__", {1}}}),
                  SafetensorsError);
  // 3 elements of U8 are 3 bytes, not 4.
  const std::string bad_span =
      make_file(R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,4]}})", std::string(4, 'x'));
  CHECK_THAT(error_of(bad_span),
             Contains("tensor 'a': data_offsets span 4 bytes but shape (3,) of U8 needs 3 x 1"));
  const std::string trailing =
      make_file(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}})", std::string(3, 'x'));
  CHECK_THAT(error_of(trailing), Contains("1 trailing bytes after the last tensor"));
  const std::string u16 =
      make_file(R"({"a":{"dtype":"U16","shape":[1],"data_offsets":[0,2]}})", std::string(2, 'x'));
  CHECK_THAT(error_of(u16),
             Contains("unsupported dtype 'U16' (cpurich reads F32, F16, BF16 and U8)"));
}
