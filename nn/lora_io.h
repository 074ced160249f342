// lora_io.h: LoRA adapters on disk in Hugging Face PEFT's own layout.
//
// What it teaches: an adapter is tiny next to its base (r * (in + out) per
// layer), so it travels alone and is applied to a base the user already has.
// PEFT stores it as a directory of two files:
//
//   adapter_config.json        {"peft_type": "LORA", "task_type": "CAUSAL_LM",
//                               "r", "lora_alpha", "lora_dropout", "use_rslora",
//                               "target_modules", "fan_in_fan_out": true,
//                               "bias": "none", "base_model_name_or_path", ...}
//   adapter_model.safetensors  base_model.model.transformer.h.0.attn.c_attn.lora_A.weight (r, in)
//                              base_model.model.transformer.h.0.attn.c_attn.lora_B.weight (out, r)
//                              ... one pair per adapted module
//
// fan_in_fan_out is true because GPT-2's Conv1D stores W as (in, out): PEFT
// then merges W + s * (B A)^T, exactly our merge_lora. An adapter only makes
// sense on the weights it was trained against, so we also record a checksum
// of the base (FNV-1a 64 over every base tensor's name and F32 bytes, in
// name order) under the key "cpurich" of the config and in the safetensors
// metadata; loading onto a base with another checksum is refused. PEFT
// ignores keys it does not know, so the directory still loads in Python.
//
// Pipeline position: fine-tuning -> [adapter directory] -> merge / eval / sample / chat.
#pragma once

#include <cstdint>
#include <string>

#include "nn/gpt.h"
#include "nn/load_options.h"
#include "nn/lora.h"

namespace cpurich {

/// "fnv1a64:<16 hex digits>" of the base model's weights (adapters excluded).
std::string base_checksum(const GPT& model);

/// PEFT's name of an adapter tensor: "base_model.model.transformer.<module>.lora_<A|B>.weight".
std::string peft_tensor_name(const std::string& module, char which);

/// Where an adapter was trained, when its model no longer holds the f32 base.
/// A QLoRA adapter (nn/qlora.h) was trained against an NF4 base; it still
/// applies to the f32 base it was quantized from, whose checksum it records
/// (computed before quantizing). The config then also carries
/// "cpurich": {"trained_against": "nf4"} and, for LoftQ, PEFT's
/// "init_lora_weights": "loftq" with "loftq_config": {"loftq_bits": 4, "loftq_iter": N}.
struct AdapterProvenance {
  std::string base_checksum;            ///< empty: base_checksum(model)
  std::string trained_against = "f32";  ///< "f32" or "nf4"
  int64_t loftq_iters = 0;              ///< > 0: LoftQ init
};

/// Writes DIR/adapter_config.json and DIR/adapter_model.safetensors (each
/// atomically; DIR is created) from the adapters attached to `model`.
/// base_name goes to base_model_name_or_path. Throws if there is none.
void save_lora_adapter(GPT& model, const LoraOptions& options, const std::string& base_name,
                       const std::string& dir, const AdapterProvenance& provenance = {});

/// Reads an adapter directory, checks it against `model` (checksum, target
/// modules, every tensor present with its shape and finite, nothing extra)
/// and attaches its adapters (base frozen, as add_lora). Returns the options
/// it was saved with. Throws std::runtime_error with one line naming the
/// file and the problem.
/// A NaN or Inf in a tensor is refused unless options allow it.
LoraOptions load_lora_adapter(GPT& model, const std::string& dir, const LoadOptions& options = {});

}  // namespace cpurich
