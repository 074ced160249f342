// compare.h: how much does quantization cost? A model against its variants
// (quantized copies of the same weights), measured the ways that matter.
//
// What it teaches: one number is not enough. For each variant we report
//   size         bits per weight of its matrices and its file's bytes (x of fp32);
//   loss         next-token cross-entropy on a text (nn/evaluate.h, the
//                `cpurich eval` windows) and its change, dloss% = 100 (L_v - L) / L;
//   KL           KL(p || q) = sum_i p_i (log p_i - log q_i) between the fp32
//                model's next-token distribution p and the variant's q at each
//                evaluated position: its mean and 99th percentile (a variant
//                can be fine on average and badly wrong at a few positions);
//   same top-1   % of positions where both models' most likely token agree;
//   Q/A          exact-match accuracy of greedy answers (infer/qa_eval.h);
//   speed        tokens/s of a short greedy decode with the variant's Decoder.
// The loss uses the dequantized GPT (the evaluation code path, F32 GEMMs);
// KL, top-1, Q/A and speed use each variant's Decoder, i.e. the packed
// weights and kernels generation really runs.
//
// Pipeline position: model dirs -> [compare] -> table (cli/cmd_compare.cpp).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "infer/decoder.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// KL and top-1 agreement between two models over the same positions.
struct KLStats {
  double mean = 0.0;       ///< mean KL(p_ref || p_var), nats
  double p99 = 0.0;        ///< 99th percentile (nearest rank) of the per-position KL
  double same_top1 = 0.0;  ///< fraction of positions with the same argmax
  int64_t positions = 0;   ///< number of predictions compared
};

/// Runs both decoders over ids in the windows of nn/evaluate.h (block b, 0 =
/// n_positions; window w = ids[w*b .. w*b+b]), one token at a time so every
/// position's next-token logits are seen, stopping after max_positions
/// predictions (0 = all n-1). Throws std::invalid_argument if ids.size() < 2,
/// the configs differ or block > n_positions.
KLStats next_token_kl(Decoder& reference, Decoder& variant, std::span<const int32_t> ids,
                      int64_t block = 0, int64_t max_positions = 0);

/// KL(p || q) of the softmax distributions of two logit vectors (V,), in nats.
double kl_from_logits(std::span<const float> p_logits, std::span<const float> q_logits);

/// A question prompt (already in the chat format) and its reference answer.
struct QAItem {
  std::string prompt;
  std::string answer;
};

struct CompareOptions {
  int64_t block = 0;            ///< evaluation window (0 = n_positions)
  int64_t batch = 8;            ///< windows per forward in the loss evaluation
  int64_t kl_positions = 1024;  ///< predictions for KL / top-1 (0 = all)
  int64_t decode_tokens = 32;   ///< greedy decode length for tokens/s
  int64_t qa_max_new_tokens = 32;
};

/// One row of the comparison.
struct VariantReport {
  std::string dir;
  std::string format;            ///< "fp32", "q4_0", "mixed", ...
  double bits_per_weight = 0.0;  ///< over the 2-D weight matrices (fp32: 32)
  int64_t file_bytes = 0;        ///< model.safetensors
  double size_ratio = 0.0;       ///< file_bytes / the fp32 model's
  double loss = 0.0;             ///< nats/token (dequantized GPT, evaluate_ids)
  int64_t loss_tokens = 0;
  double delta_loss_pct = 0.0;
  KLStats kl;  ///< all zero / same_top1 = 1 for the fp32 model itself
  double qa_accuracy = 0.0;
  int64_t qa_n = 0;  ///< 0 when no Q/A pairs were given
  double decode_tokens_per_s = 0.0;
  int64_t decode_tokens = 0;
};

/// The fp32 model (first row) and each variant directory, on the same ids and
/// Q/A items. Throws std::invalid_argument when a variant's config differs
/// from the model's.
std::vector<VariantReport> compare_models(const std::string& model_dir,
                                          const std::vector<std::string>& variant_dirs,
                                          std::span<const int32_t> ids, std::span<const QAItem> qa,
                                          const Tokenizer& tokenizer,
                                          const CompareOptions& options);

}  // namespace cpurich
