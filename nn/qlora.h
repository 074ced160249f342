// qlora.h: QLoRA, LoRA on a base held in 4 bits (Dettmers et al. 2023).
//
// What it teaches: LoRA freezes W, so W only has to be *read*, never
// updated, and a frozen matrix can be stored compressed. QLoRA keeps each
// adapted Linear's W as NF4 (tensor/quant_formats.h: 4-bit NormalFloat codes,
// one absmax per 64 weights, the absmaxes double-quantized to int8 per 256
// blocks: 4 + 8/64 + 32/(64*256) = 4.127 bits per weight instead of 32) and
// releases the f32 copy. The product with W decodes 128 rows of it at a time
// into a small f32 buffer (tensor/matmul_nf4.h), in the forward and in the
// backward's dx = dy W^T; the adapter trains in f32 exactly as in LoRA.
// Biases, LayerNorms and the embeddings stay f32 and frozen.
//
// The adapter learns to correct the NF4 base, not the f32 one. Saved in
// PEFT's layout it applies to the f32 base like any LoRA adapter (as a
// bitsandbytes QLoRA adapter does); the config records that it was trained
// against an NF4 base.
//
// Init: plain (PEFT's default: A Kaiming-uniform, B = 0, so the model starts
// as the NF4 model) or LoftQ (nn/loftq.h: A, B start at the best rank-r fit
// of the quantization error, so the model starts closer to the f32 model).
//
// Pipeline position: pretrained model -> [NF4 base + adapters] -> fine-tuning -> adapter dir.
#pragma once

#include <cstdint>

#include "nn/gpt.h"
#include "nn/lora.h"

namespace cpurich {

/// How the adapters of an NF4 base start, and what that cost.
struct QLoraOptions {
  int64_t loftq_iters = 0;  ///< 0: plain init (B = 0); N >= 1: LoftQ with N alternations
};

/// What add_qlora did, summed over the adapted layers.
struct QLoraStats {
  double init_error = 0.0;   ///< ||W - (dequant(Q) + s B A)||_F over all adapted W
  double weight_norm = 0.0;  ///< ||W||_F over the same weights
  int64_t base_weights = 0;  ///< weights now held as NF4
  int64_t base_bytes = 0;    ///< their NF4 bytes (codes, absmaxes, scales)
};

/// add_lora, then every adapted Linear's W is quantized to NF4 and its f32
/// weight released (the Linear computes on weight_nf4). With loftq_iters > 0
/// the NF4 base and A, B come from LoftQ. Needs an f32 model whose adapted
/// layers have `in` a multiple of 64. Returns the adapter parameters; fills
/// `stats` when given.
NamedParameters add_qlora(GPT& model, const LoraOptions& options, const QLoraOptions& qoptions,
                          QLoraStats* stats = nullptr);

}  // namespace cpurich
