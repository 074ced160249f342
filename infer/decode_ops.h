// decode_ops.h: the small per-row pieces of the GPT forward used by Decoder:
// LayerNorm of one row and causal attention of one query against the cache.
//
// They are plain loops on purpose: each touches C or T*head_dim floats, far
// less than the weight matrices (matvec.h), so clarity wins over tuning.
//
// Pipeline position: tokens -> model -> [decode] -> samples.
#pragma once

#include <cstdint>

namespace cpurich {

/// y (C,) = (x - mean) / sqrt(var + eps) * w + b, with mean and the biased
/// variance of x (C,). x and y may be the same row.
void layernorm_row(const float* x, const float* w, const float* b, int64_t C, float eps, float* y);

/// Single-head causal attention of one query over n cached positions:
///   s_j = q . k_j / sqrt(d)  for j < n,   p = softmax(s),   out = sum_j p_j v_j
/// q (d,), keys and values (n, d) row-major, out (d,), scores (n,) scratch.
void attend(const float* q, const float* keys, const float* values, int64_t n, int64_t d,
            float* scores, float* out);

}  // namespace cpurich
