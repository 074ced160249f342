// cmd_export.cpp: `cpurich export`: a model directory as a GGUF file for
// llama.cpp (infer/gguf_export.h), in F32, F16 or one of ggml's block formats.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "infer/gguf_export.h"

namespace cpurich::cli {

namespace {

struct ExportArgs {
  std::string model;
  std::string out;
  std::string type = "f16";
};

void run_export(const ExportArgs& a) {
  const GgufExportOptions options{.type =
                                      parse_gguf_file_type(a.type)};  // bad type: before loading
  const GgufExportReport r = export_gguf(a.model, a.out, options);
  for (const std::string& note : r.notes) std::fprintf(stderr, "cpurich: note: %s\n", note.c_str());
  std::printf("wrote %s: gpt2 GGUF v3, type %s, %lld tensors, %lld metadata keys, %.2f MB\n",
              a.out.c_str(), a.type.c_str(), static_cast<long long>(r.n_tensors),
              static_cast<long long>(r.n_kv), static_cast<double>(r.bytes) / 1e6);
}

}  // namespace

void register_export(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  CLI::App* sub = app.add_subcommand(
      "export",
      "Write a model directory as a GGUF file that llama.cpp runs (architecture gpt2).\n"
      "--type: f32, f16, or a ggml block format (q8_0, q4_0, q4_1) for the 2-D weights;\n"
      "LayerNorms, biases and the position embedding stay F32.");
  sub->add_option("--model", a->model,
                  "Model directory (config.json, model.safetensors, tokenizer)")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--out", a->out, "The .gguf file to write")->required()->check(output_file());
  sub->add_option("--type", a->type, "f32, f16, q8_0, q4_0 or q4_1 (default f16)")
      ->check(parsed_by(parse_gguf_file_type));
  sub->callback([a] { run_export(*a); });
}

}  // namespace cpurich::cli
