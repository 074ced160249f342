// session.cpp: loading a model directory and encoding prompts (see session.h).
#include "infer/session.h"

#include <filesystem>
#include <stdexcept>

#include "infer/batch_decoder.h"
#include "nn/gpt.h"
#include "nn/lora_io.h"
#include "nn/quant_io.h"

namespace cpurich {

InferenceModel load_inference_model(const std::string& dir, const std::string& adapter_dir) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("model directory '" + dir + "' does not exist");
  InferenceModel m;
  m.tokenizer = load_tokenizer_from_dir(dir);
  {
    // A quantized directory: the Decoder computes from its packed blocks.
    std::map<std::string, QuantMatrix> quantized;
    GPT model = load_model(dir, quantized);  // freed at the end of this scope
    if (!adapter_dir.empty()) {
      load_lora_adapter(model, adapter_dir);
      merge_lora(model);
      // The merged weights W + BA are no longer the blocks' values: run the
      // merged (dequantized base + adapter) F32 model.
      quantized.clear();
    }
    m.decoder = std::make_unique<Decoder>(model, quantized);
  }
  if (m.tokenizer->vocab_size() > m.decoder->config().vocab_size)
    throw std::invalid_argument(
        "tokenizer in '" + dir + "' has " + std::to_string(m.tokenizer->vocab_size()) +
        " tokens but the model's vocabulary is " + std::to_string(m.decoder->config().vocab_size));
  return m;
}

AdapterSpec parse_adapter_spec(const std::string& arg) {
  const auto eq = arg.find('=');
  AdapterSpec spec;
  if (eq == std::string::npos) {
    spec.dir = arg;
    spec.name = std::filesystem::path(arg).lexically_normal().filename().string();
    if (spec.name.empty())  // "dir/" normalizes to "dir/" with an empty filename
      spec.name = std::filesystem::path(arg).lexically_normal().parent_path().filename().string();
  } else {
    spec.name = arg.substr(0, eq);
    spec.dir = arg.substr(eq + 1);
  }
  if (spec.name.empty() || spec.dir.empty())
    throw std::invalid_argument("--adapter '" + arg + "': expected NAME=DIR or DIR");
  return spec;
}

AdapterModel load_adapter_model(const std::string& dir, std::span<const AdapterSpec> adapters) {
  if (!std::filesystem::is_directory(dir))
    throw std::runtime_error("model directory '" + dir + "' does not exist");
  for (size_t i = 0; i < adapters.size(); ++i) {  // name clashes fail before any loading
    if (adapters[i].name == AdapterDecoder::kBase)
      throw std::invalid_argument("adapter name 'base' is reserved for the model without adapter");
    for (size_t j = 0; j < i; ++j)
      if (adapters[j].name == adapters[i].name)
        throw std::invalid_argument("two adapters are named '" + adapters[i].name + "'");
  }
  AdapterModel m;
  m.tokenizer = load_tokenizer_from_dir(dir);
  std::map<std::string, QuantMatrix> quantized;  // unused: the base runs in F32
  GPT model = load_model(dir, quantized);
  m.decoder = std::make_unique<AdapterDecoder>(model);
  for (const AdapterSpec& a : adapters) {
    // Attach (the checks of load_lora_adapter), then take the factors off so
    // the model is the plain base again for the next one.
    load_lora_adapter(model, a.dir);
    m.decoder->add_adapter(a.name, take_lora_weights(model));
  }
  if (m.tokenizer->vocab_size() > m.decoder->config().vocab_size)
    throw std::invalid_argument(
        "tokenizer in '" + dir + "' has " + std::to_string(m.tokenizer->vocab_size()) +
        " tokens but the model's vocabulary is " + std::to_string(m.decoder->config().vocab_size));
  return m;
}

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text) {
  if (text.empty()) throw std::invalid_argument("empty prompt: give some text to continue");
  auto ids = tokenizer.encode(text);
  if (ids.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  return ids;
}

}  // namespace cpurich
