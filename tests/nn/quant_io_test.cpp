// quant_io_test.cpp: quantized model directories (nn/quant_io.h): every format
// saves and loads its blocks byte for byte, load_model of a quantized
// directory is the dequantized model, and each kind of malformed file is
// rejected with a one-line error naming the tensor.
#include "nn/quant_io.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <string>

#include "nn/safetensors.h"
#include "nn_test_util.h"
#include "tensor/ops.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::testing;
using Catch::Matchers::Contains;

namespace {

/// Wide enough that every matrix's input dimension (64 or 256) is a multiple
/// of every block (32, 64).
GPTConfig quant_config() {
  return {.n_layer = 2, .n_head = 2, .n_embd = 64, .n_positions = 16, .vocab_size = 40};
}

GPT random_model(uint64_t seed) {
  GPT model(quant_config(), seed);
  randomize(model, seed, 0.1);
  return model;
}

/// The message load_quantized_matrices(dir) throws, also checked to be the
/// message load_model(dir) throws and to be one line.
std::string load_error(const std::string& dir) {
  std::string message = "<accepted>";
  try {
    load_quantized_matrices(dir);
  } catch (const std::exception& e) {
    message = e.what();
  }
  CHECK(message.find('\n') == std::string::npos);
  CHECK_THROWS_WITH(load_model(dir), message);
  return message;
}

}  // namespace

TEST_CASE("quantized model directories round-trip every format byte for byte", "[nn][quant_io]") {
  const GPT model = random_model(1);
  ScratchDir dir("quant_rt");
  for (const auto& info : quant_formats()) {
    INFO(info.name);
    const auto quantized = quantize_model(model, {.format = info.format});
    CHECK(quantized.size() == 2 + 4 * 2);  // wte, wpe, four matrices per layer
    const std::string d = dir / std::string(info.name);
    save_quantized_model(model, quantized, d);
    const auto loaded = load_quantized_matrices(d);
    REQUIRE(loaded.size() == quantized.size());
    for (const auto& [name, q] : quantized) {
      const QuantMatrix& l = loaded.at(name);
      CHECK(l.format == info.format);
      CHECK(l.rows == q.rows);
      CHECK(l.cols == q.cols);
      CHECK(l.data == q.data);
    }
    const auto file = read_safetensors(d + "/model.safetensors");
    CHECK(file.metadata.at("cpurich.quant.format") == info.name);
    CHECK(file.metadata.at("cpurich.quant.h.1.mlp.c_proj.weight") ==
          std::string(info.name) + " 64 256");
    CHECK(file.stored_dtype.at("h.0.ln_1.weight") == "F32");
    CHECK(file.stored_dtype.at("h.0.attn.c_attn.bias") == "F32");
    // Saving what was loaded writes the same file.
    std::map<std::string, QuantMatrix> again;
    const GPT reloaded = load_model(d, again);
    save_quantized_model(reloaded, again, dir / "again");
    CHECK(read_file(dir / "again/model.safetensors") == read_file(d + "/model.safetensors"));
  }
}

TEST_CASE("load_model of a quantized directory is the dequantized model", "[nn][quant_io]") {
  const GPT model = random_model(2);
  const auto quantized = quantize_model(model, {.format = QuantFormat::Q4_0});
  ScratchDir dir("quant_deq");
  save_quantized_model(model, quantized, dir.str());
  const GPT loaded = load_model(dir.str());
  const auto original = model.state_dict();
  for (const auto& [name, t] : loaded.state_dict()) {
    INFO(name);
    const auto q = quantized.find(name);
    if (q == quantized.end()) {  // biases and LayerNorms: stored F32, exact
      CHECK(max_abs_diff(t, original.at(name)) == 0.0);
      continue;
    }
    std::vector<float> w(static_cast<size_t>(q->second.rows * q->second.cols));
    dequantize_matrix(q->second, w);
    // Conv1D weights are stored (in, out): element [c][r] is matrix row r, column c.
    const bool conv1d = name != "wte.weight" && name != "wpe.weight";
    const Tensor dense = t.contiguous();
    const auto v = dense.span_f32();
    for (int64_t r = 0; r < q->second.rows; ++r)
      for (int64_t c = 0; c < q->second.cols; ++c) {
        const float got = conv1d ? v[c * q->second.rows + r] : v[r * q->second.cols + c];
        REQUIRE(got == w[r * q->second.cols + c]);
      }
    CHECK(max_abs_diff(t, original.at(name)) > 0.0);  // q4_0 does change the weights
  }
}

TEST_CASE("an f32 model directory has no quantized matrices", "[nn][quant_io]") {
  ScratchDir dir("quant_f32");
  save_model(random_model(3), dir.str());
  CHECK(load_quantized_matrices(dir.str()).empty());
}

TEST_CASE("malformed quantized files are rejected naming the tensor", "[nn][quant_io]") {
  const GPT model = random_model(4);
  ScratchDir dir("quant_bad");
  const std::string good = dir / "good";
  save_quantized_model(model, quantize_model(model, {.format = QuantFormat::Q8_0}), good);
  const SafetensorsFile file = read_safetensors(good + "/model.safetensors");
  const std::string fc = "h.0.mlp.c_fc.weight";  // q8_0 (256, 64): 256 * 2 blocks of 34 bytes
  int n = 0;
  // Writes config.json + a model.safetensors built from `file` after `edit`.
  auto variant = [&](auto edit) {
    SafetensorsFile f = file;
    edit(f);
    const std::string d = dir / ("bad" + std::to_string(n++));
    std::filesystem::create_directories(d);
    std::filesystem::copy_file(good + "/config.json", d + "/config.json");
    write_safetensors(d + "/model.safetensors", f.tensors, f.metadata, f.bytes);
    return d;
  };
  const std::string where = "model.safetensors: tensor '" + fc + "': ";

  SECTION("wrong byte count") {
    const auto d = variant([&](SafetensorsFile& f) { f.bytes.at(fc).pop_back(); });
    CHECK_THAT(load_error(d),
               Contains(where + "q8_0 matrix (256, 64) needs 17408 bytes, has 17407"));
  }
  SECTION("truncated scales (nf4: the absmax scales and offset come last)") {
    const auto q = quantize_model(model, {.format = QuantFormat::NF4});
    const std::string d4 = dir / "nf4";
    save_quantized_model(model, q, d4);
    SafetensorsFile f = read_safetensors(d4 + "/model.safetensors");
    f.bytes.at(fc).resize(f.bytes.at(fc).size() - 4);  // drops the f32 offset
    write_safetensors(d4 + "/model.safetensors", f.tensors, f.metadata, f.bytes);
    CHECK_THAT(load_error(d4), Contains(where + "nf4 matrix (256, 64) needs"));
  }
  SECTION("unknown format") {
    const auto d =
        variant([&](SafetensorsFile& f) { f.metadata.at("cpurich.quant." + fc) = "q3_k 256 64"; });
    CHECK_THAT(load_error(d), Contains(where + "unknown quantization format 'q3_k'"));
  }
  SECTION("NaN scale") {
    const auto d = variant([&](SafetensorsFile& f) {
      auto& b = f.bytes.at(fc);
      b[34 * 5] = 0x00;  // block 5's f16 scale = 0x7e00, a NaN
      b[34 * 5 + 1] = 0x7e;
    });
    CHECK_THAT(load_error(d), Contains(where + "q8_0 matrix has a non-finite block scale"));
  }
  SECTION("metadata shape differs from the config") {
    const auto d =
        variant([&](SafetensorsFile& f) { f.metadata.at("cpurich.quant." + fc) = "q8_0 128 128"; });
    CHECK_THAT(load_error(d), Contains(where + "metadata says (128, 128) but config.json makes it "
                                               "(256, 64)"));
  }
  SECTION("malformed metadata") {
    const auto d =
        variant([&](SafetensorsFile& f) { f.metadata.at("cpurich.quant." + fc) = "q8_0 256 -64"; });
    CHECK_THAT(load_error(d), Contains(where + "metadata 'q8_0 256 -64' is not"));
  }
  SECTION("a U8 tensor with no metadata") {
    const auto d = variant([&](SafetensorsFile& f) { f.metadata.erase("cpurich.quant." + fc); });
    CHECK_THAT(load_error(d), Contains(where + "U8 tensor without metadata"));
  }
  SECTION("metadata for a tensor stored as F32") {
    const auto d = variant(
        [&](SafetensorsFile& f) { f.metadata["cpurich.quant.h.0.ln_1.weight"] = "q8_0 1 64"; });
    CHECK_THAT(load_error(d), Contains("tensor 'h.0.ln_1.weight': metadata"));
  }
  SECTION("a U8 tensor that is not a weight matrix") {
    const auto d = variant([&](SafetensorsFile& f) {
      f.tensors.erase("h.0.ln_1.bias");
      f.bytes["h.0.ln_1.bias"] = std::vector<uint8_t>(68);
      f.metadata["cpurich.quant.h.0.ln_1.bias"] = "q8_0 2 32";
    });
    CHECK_THAT(load_error(d), Contains("tensor 'h.0.ln_1.bias': is not a weight matrix"));
  }
}
