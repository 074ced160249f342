// session.cpp: loading a model directory and encoding prompts (see session.h).
#include "infer/session.h"

#include <filesystem>
#include <stdexcept>

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

std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text) {
  if (text.empty()) throw std::invalid_argument("empty prompt: give some text to continue");
  auto ids = tokenizer.encode(text);
  if (ids.empty()) throw std::invalid_argument("the prompt encodes to no tokens");
  return ids;
}

}  // namespace cpurich
