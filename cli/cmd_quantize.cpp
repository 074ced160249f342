// cmd_quantize.cpp: `cpurich quantize`: post-training quantization of a model
// directory with round-to-nearest (the formats' reference quantizers,
// tensor/quant_formats.h) into a quantized model directory (nn/quant_io.h).
//
//   cpurich quantize --model DIR --format int8|q8_0|q4_0|q4_1|nf4 --out DIR
//
// Methods that look at data (imatrix, GPTQ: compress/) add their options here
// and fill the same QuantMatrix map before save_quantized_model.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "nn/gpt.h"
#include "nn/quant_io.h"
#include "tokenizer/tokenizer.h"

namespace cpurich::cli {

namespace {

struct QuantizeArgs {
  std::string model, format, out;
  int threads = 0;
};

void run_quantize(const QuantizeArgs& a) {
  apply_threads(a.threads);
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a.out) && fs::equivalent(a.model, a.out, ec))
    throw std::invalid_argument("quantize: --out must differ from --model (it would overwrite it)");
  const QuantizeOptions options{.format = parse_quant_format(a.format)};
  GPT model = load_model(a.model);  // a quantized input is dequantized first
  const auto tok = load_tokenizer_from_dir(a.model);
  const auto quantized = quantize_model(model, options);
  save_quantized_model(model, quantized, a.out);
  save_tokenizer(*tok, (fs::path(a.out) / "tokenizer.json").string());

  int64_t weights = 0, bytes = 0;
  for (const auto& [name, q] : quantized) {
    weights += q.rows * q.cols;
    bytes += static_cast<int64_t>(q.data.size());
  }
  const auto fp32_bytes = static_cast<double>(model.num_parameters()) * 4.0;
  const auto file_bytes = static_cast<double>(fs::file_size(fs::path(a.out) / "model.safetensors"));
  std::printf(
      "quantized %zu matrices (%lld weights) to %s: %.3f bits/weight; model.safetensors %.0f "
      "bytes = %.3fx of the fp32 weights (%.0f bytes)\n",
      quantized.size(), static_cast<long long>(weights), a.format.c_str(),
      weights ? 8.0 * static_cast<double>(bytes) / static_cast<double>(weights) : 32.0, file_bytes,
      file_bytes / fp32_bytes, fp32_bytes);
}

}  // namespace

void register_quantize(CLI::App& app) {
  auto a = std::make_shared<QuantizeArgs>();
  CLI::App* sub = app.add_subcommand(
      "quantize",
      "Quantize a model's weight matrices (wte, wpe, attention and MLP; those whose input\n"
      "dimension is a multiple of the format's block) with round-to-nearest. Biases and\n"
      "LayerNorms stay fp32. Writes config.json, tokenizer.json and model.safetensors with each\n"
      "matrix as U8 blocks (format recorded in the file's metadata).");
  sub->add_option("--model", a->model, "Model directory to quantize")->required();
  sub->add_option("--format", a->format, "int8, q8_0, q4_0, q4_1 or nf4")->required();
  sub->add_option("--out", a->out, "Output model directory")->required();
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_quantize(*a); });
}

}  // namespace cpurich::cli
