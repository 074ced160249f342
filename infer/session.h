// session.h: what `cpurich sample` and `cpurich chat` do before generating:
// load a model directory for inference (one adapter merged, or several kept
// apart and chosen per request) and turn the prompt into tokens, with
// the checks that give a bad input a clear one-line error (tests call these
// functions directly, exactly as the CLI does).
//
// Pipeline position: [model dir + text -> decoder + tokens] -> generation.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "infer/adapter_decoder.h"
#include "infer/decoder.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// A model directory ready for generation.
struct InferenceModel {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<Decoder> decoder;
};

/// Loads DIR/config.json, model.safetensors and the tokenizer; a quantized
/// directory (nn/quant_io.h) decodes from its packed matrices. With an
/// adapter directory (nn/lora_io.h), merges the adapter into the (dequantized)
/// weights first, so generation runs at the base model's F32 speed. Throws
/// std::runtime_error if DIR does not exist or the adapter does not fit, and
/// std::invalid_argument if the tokenizer has more ids than the model's vocabulary.
InferenceModel load_inference_model(const std::string& dir, const std::string& adapter_dir = "");

/// One `--adapter` argument: "NAME=DIR", or "DIR" named after its last
/// path component.
struct AdapterSpec {
  std::string name;
  std::string dir;
};

/// Parses an `--adapter` argument; throws std::invalid_argument on an empty
/// name or directory.
AdapterSpec parse_adapter_spec(const std::string& arg);

/// A base model with named adapters kept apart (infer/adapter_decoder.h).
struct AdapterModel {
  std::unique_ptr<Tokenizer> tokenizer;
  std::unique_ptr<AdapterDecoder> decoder;  ///< starts on the base
};

/// Loads DIR as load_inference_model (a quantized directory runs its
/// dequantized F32 weights) and each adapter unmerged, checked against the
/// base as load_lora_adapter checks it (checksum, shapes). Throws
/// std::runtime_error as load_inference_model, std::invalid_argument on two
/// adapters with one name or a reserved name ("base").
AdapterModel load_adapter_model(const std::string& dir, std::span<const AdapterSpec> adapters);

/// Encodes a prompt; throws std::invalid_argument on empty text (the
/// tokenizer's own exception names unknown characters / invalid UTF-8).
std::vector<int32_t> encode_prompt(const Tokenizer& tokenizer, std::string_view text);

}  // namespace cpurich
