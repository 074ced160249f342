// roundtrip_test.cpp: what we write we read back bit for bit; a file laid out
// the way Hugging Face writes it (built here byte by byte) loads with the
// right values; the writer is atomic and rejects what it cannot store.
#include <algorithm>
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <numbers>

#include "nn/safetensors.h"
#include "safetensors_test_util.h"
#include "util/file_util.h"

using Catch::Matchers::Contains;
using cpurich::DType;
using cpurich::SafetensorsError;
using cpurich::Tensor;
using cpurich::test::as_byte_span;
using cpurich::test::make_file;
using cpurich::test::TempDir;

namespace {

std::vector<std::uint32_t> bits_of(const Tensor& t) {
  std::vector<std::uint32_t> bits;
  const Tensor dense = t.contiguous();
  if (dense.numel() == 0) return bits;
  for (const float v : dense.span_f32()) bits.push_back(std::bit_cast<std::uint32_t>(v));
  return bits;
}

/// Tensors with awkward shapes and values: a scalar, empty tensors, a
/// transposed (non-contiguous) view, and every special float.
std::map<std::string, Tensor> awkward_tensors() {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan_payload = std::bit_cast<float>(0x7fc12345u);
  const float denormal = std::numeric_limits<float>::denorm_min();
  return {
      {"h.0.w", Tensor::from_vector(
                    std::vector<float>{1.5f, -0.0f, inf, -inf, nan_payload, denormal}, {2, 3})},
      {"h.0.w_t",
       Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3}).transpose(0, 1)},
      {"scalar", Tensor::scalar(std::numeric_limits<float>::max())},
      {"empty", Tensor::zeros({0})},
      {"empty_2d", Tensor::zeros({4, 0, 2})},
      {"a_first", Tensor::from_vector(std::vector<float>{-1e-30f}, {1})},
  };
}

}  // namespace

TEST_CASE("write -> read returns the same bits, shapes and metadata") {
  TempDir dir("st_roundtrip");
  const auto tensors = awkward_tensors();
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"note", "ünïcode ✓"}, {"empty", ""}};
  const std::string path = dir.file("model.safetensors");
  cpurich::write_safetensors(path, tensors, metadata);
  const auto file = cpurich::read_safetensors(path);
  CHECK(file.metadata == metadata);
  REQUIRE(file.tensors.size() == tensors.size());
  for (const auto& [name, original] : tensors) {
    INFO(name);
    REQUIRE(file.tensors.count(name) == 1);
    const Tensor& loaded = file.tensors.at(name);
    CHECK(loaded.shape() == original.shape());
    CHECK(loaded.dtype() == DType::F32);
    CHECK(bits_of(loaded) == bits_of(original));
    CHECK(file.stored_dtype.at(name) == "F32");
  }
}

TEST_CASE(
    "the writer's layout: aligned buffer, tensors sorted by name, no metadata key when empty") {
  const auto bytes = cpurich::serialize_safetensors(awkward_tensors());
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  CHECK((8 + n) % 8 == 0);  // data buffer starts 8-byte aligned
  const std::string header = bytes.substr(8, n);
  CHECK(header.find("__metadata__") == std::string::npos);
  // Sorted by name: "a_first" holds the first 4 bytes of the buffer.
  CHECK_THAT(header, Contains(R"("a_first":{"data_offsets":[0,4])"));
  CHECK(cpurich::parse_safetensors(as_byte_span(bytes), "x").metadata.empty());
  // Deterministic: the same tensors give the same bytes.
  CHECK(cpurich::serialize_safetensors(awkward_tensors()) == bytes);
}

TEST_CASE("a Hugging Face layout file, built byte by byte, loads with the right values") {
  // HF's writer puts larger dtypes first and pads the header with spaces to a
  // multiple of 8; JSON key order is independent of buffer order here.
  std::string header = R"({"__metadata__":{"format":"pt"},)"
                       R"("wte.bf16":{"dtype":"BF16","shape":[2,2],"data_offsets":[12,20]},)"
                       R"("pi":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                       R"("h.0.f16":{"dtype":"F16","shape":[4],"data_offsets":[4,12]}})";
  header.append((8 - (8 + header.size()) % 8) % 8, ' ');
  REQUIRE((8 + header.size()) % 8 == 0);
  const std::string buffer =
      std::string("\xDB\x0F\x49\x40", 4) +                  // F32 0x40490FDB: pi rounded to float
      std::string("\x00\x3C\x00\xC0\xFF\x7B\x01\x00", 8) +  // F16 1, -2, 65504, 2^-24
      std::string("\x80\x3F\x40\xC0\x49\x40\x00\x00", 8);   // BF16 1, -3, 3.140625, 0
  const auto file = cpurich::parse_safetensors(as_byte_span(make_file(header, buffer)), "hf");
  CHECK(file.metadata == std::map<std::string, std::string>{{"format", "pt"}});
  CHECK(file.stored_dtype.at("pi") == "F32");
  CHECK(file.stored_dtype.at("h.0.f16") == "F16");
  CHECK(file.stored_dtype.at("wte.bf16") == "BF16");
  CHECK(file.tensors.at("pi").dim() == 0);
  CHECK(file.tensors.at("pi").item() == std::numbers::pi_v<float>);
  CHECK(file.tensors.at("h.0.f16").to_vector() ==
        std::vector<double>{1.0, -2.0, 65504.0, std::ldexp(1.0, -24)});
  CHECK(file.tensors.at("wte.bf16").shape() == cpurich::Shape{2, 2});
  CHECK(file.tensors.at("wte.bf16").to_vector() == std::vector<double>{1.0, -3.0, 3.140625, 0.0});
}

TEST_CASE("read_safetensors names the path when the file is missing or a directory") {
  TempDir dir("st_missing");
  CHECK_THROWS_WITH(cpurich::read_safetensors(dir.file("nope.safetensors")),
                    Contains("nope.safetensors: cannot open: No such file or directory"));
  CHECK_THROWS_WITH(cpurich::read_safetensors(dir.path().string()),
                    Contains("is a directory, not a safetensors file"));
  // A malformed file on disk reports its path.
  cpurich::write_file_atomic(dir.file("short.safetensors"), std::string("abc"));
  CHECK_THROWS_WITH(cpurich::read_safetensors(dir.file("short.safetensors")),
                    Contains("short.safetensors: file is 3 bytes, too short"));
}

TEST_CASE("the writer rejects tensors it cannot store") {
  const Tensor ok = Tensor::zeros({2});
  CHECK_THROWS_WITH(cpurich::serialize_safetensors({{"x", Tensor::zeros({2}, DType::F64)}}),
                    Contains("tensor 'x' is f64; only f32 tensors are written"));
  CHECK_THROWS_WITH(cpurich::serialize_safetensors({{"__metadata__", ok}}),
                    Contains("invalid tensor name '__metadata__'"));
  CHECK_THROWS_WITH(cpurich::serialize_safetensors({{"", ok}}), Contains("invalid tensor name ''"));
  CHECK_THROWS_WITH(cpurich::serialize_safetensors({{"bad\xff", ok}}),
                    Contains("cannot encode the header"));
  CHECK_THROWS_AS(cpurich::serialize_safetensors({{"x", ok}}, {{"k", "\xfe"}}), SafetensorsError);
}

TEST_CASE("atomic write: success leaves no temp file, failure leaves the old file intact") {
  TempDir dir("st_atomic");
  const std::string path = dir.file("model.safetensors");
  const std::map<std::string, Tensor> v1 = {{"w", Tensor::full({3}, 1.0)}};
  cpurich::write_safetensors(path, v1);
  const std::string old_bytes = cpurich::read_file(path);
  auto entries = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir.path()))
      names.push_back(e.path().filename().string());
    return names;
  };
  CHECK(entries() == std::vector<std::string>{"model.safetensors"});

  SECTION("missing target directory") {
    CHECK_THROWS_WITH(cpurich::write_safetensors(dir.file("no/such/dir/m.safetensors"), v1),
                      Contains("m.safetensors: cannot write safetensors file"));
    CHECK(entries() == std::vector<std::string>{"model.safetensors"});
  }
  SECTION("temp file cannot be created: the old file keeps its bytes") {
    // Tests run as root in CI, so chmod cannot make a directory unwritable;
    // instead occupy the writer's documented temp name (path.tmp.<pid>) with a directory.
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    std::filesystem::create_directory(tmp);
    CHECK_THROWS_AS(cpurich::write_safetensors(path, {{"w", Tensor::full({5}, 2.0)}}),
                    SafetensorsError);
    CHECK(cpurich::read_file(path) == old_bytes);
    std::filesystem::remove(tmp);
  }
  SECTION("rename fails (target is a non-empty directory): the temp file is removed") {
    const std::string target = dir.file("occupied");
    std::filesystem::create_directories(target + "/inside");
    CHECK_THROWS_AS(cpurich::write_safetensors(target, v1), SafetensorsError);
    auto names = entries();
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"model.safetensors", "occupied"});
  }
  SECTION("overwriting replaces the contents completely") {
    cpurich::write_safetensors(path, {{"w", Tensor::full({5}, 2.0)}});
    const auto file = cpurich::read_safetensors(path);
    CHECK(file.tensors.at("w").to_vector() == std::vector<double>(5, 2.0));
    CHECK(entries() == std::vector<std::string>{"model.safetensors"});
  }
}
