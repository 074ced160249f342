// cmd_quantize.cpp: `cpurich quantize`: post-training quantization of a model
// directory with round-to-nearest (the formats' reference quantizers,
// tensor/quant_formats.h) into a quantized model directory (nn/quant_io.h).
//
//   cpurich quantize --model DIR --format int8|q8_0|q4_0|q4_1|nf4|gptq4
//                    [--gptq-layout q4_0|q4_1] [--act-order] [--imatrix]
//                    [--calib FILE] --out DIR
//
// Methods that look at data replace the Linears' round-to-nearest blocks with
// their own (compress/): gptq4 (GPTQ's error feedback, stored in the q4_0 or
// q4_1 layout so every q4 kernel runs it) and --imatrix (each block's scale
// chosen to minimise the error weighted by the calibration inputs' mean
// squares). wte and wpe keep round-to-nearest: they are looked up, not
// multiplied by activations we could calibrate on (wte is also the head; its
// inputs are the final LayerNorm's outputs, which compress/ does not collect).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include "cli/commands.h"
#include "cli/compress_common.h"
#include "cli/flag_checks.h"
#include "compress/calibration.h"
#include "compress/model.h"
#include "nn/gpt.h"
#include "nn/quant_io.h"
#include "tokenizer/tokenizer.h"

namespace cpurich::cli {

namespace {

struct QuantizeArgs {
  std::string model, format, out, calib, gptq_layout = "q4_0";
  bool imatrix = false;
  bool act_order = false;
  int threads = 0;
};

void run_quantize(const QuantizeArgs& a) {
  apply_threads(a.threads);
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a.out) && fs::equivalent(a.model, a.out, ec))
    throw std::invalid_argument("quantize: --out must differ from --model (it would overwrite it)");
  const bool gptq = a.format == "gptq4";
  const QuantFormat format = parse_quant_format(gptq ? a.gptq_layout : a.format);
  if (gptq && format != QuantFormat::Q4_0 && format != QuantFormat::Q4_1)
    throw std::invalid_argument("quantize: --gptq-layout must be q4_0 or q4_1");
  if (a.imatrix && (gptq || format == QuantFormat::Int8 || format == QuantFormat::NF4))
    throw std::invalid_argument("quantize: --imatrix works with q8_0, q4_0 and q4_1");
  if ((gptq || a.imatrix) && a.calib.empty())
    throw std::invalid_argument("quantize: gptq4 and --imatrix need --calib FILE");
  if (!gptq && !a.imatrix && (!a.calib.empty() || a.act_order))
    throw std::invalid_argument(
        "quantize: --calib and --act-order only apply to gptq4 / --imatrix");
  GPT model = load_model(a.model);  // a quantized input is dequantized first
  const auto tok = load_tokenizer_from_dir(a.model);
  auto quantized = quantize_model(model, QuantizeOptions{.format = format});
  if (gptq || a.imatrix) {
    const auto ids = calibration_ids(a.model, a.calib);
    const auto cal = compress::collect_calibration(
        model, ids,
        std::min<int64_t>(model.config().n_positions, static_cast<int64_t>(ids.size())));
    const auto linears =
        gptq ? compress::quantize_model_gptq(
                   model, cal, compress::GptqOptions{.format = format, .act_order = a.act_order})
             : compress::quantize_model_imatrix(model, cal, format);
    for (const auto& [name, q] : linears) quantized.insert_or_assign(name, q);
  }
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
  sub->add_option("--model", a->model, "Model directory to quantize")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--format", a->format, "int8, q8_0, q4_0, q4_1, nf4 or gptq4")
      ->required()
      ->check(parsed_by([](const std::string& f) {
        if (f != "gptq4") parse_quant_format(f);
      }));
  sub->add_option("--gptq-layout", a->gptq_layout, "Block layout gptq4 writes: q4_0 or q4_1")
      ->check(CLI::IsMember({"q4_0", "q4_1"}));
  sub->add_flag("--act-order", a->act_order, "gptq4: quantize columns by decreasing H[i,i]");
  sub->add_flag("--imatrix", a->imatrix,
                "Importance-weighted rounding (q8_0, q4_0, q4_1) from --calib activations");
  sub->add_option("--calib", a->calib, "Calibration text for gptq4 / --imatrix")
      ->check(CLI::ExistingFile);
  sub->add_option("--out", a->out, "Output model directory")->required()->check(output_dir());
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_quantize(*a); });
}

}  // namespace cpurich::cli
