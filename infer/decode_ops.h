// decode_ops.h: the small per-row pieces of the GPT forward used by Decoder:
// LayerNorm of one row and causal attention of one query against the cache.
//
// What it teaches: at batch 1 these touch only C or n*head_dim floats, far
// less than the weight matrices (matvec.h), yet written as textbook loops
// they cost more than the matrices: a dot product q . k_j summed one term
// after another is a chain of dependent additions (each waits for the last,
// ~3 cycles apiece) and std::exp is a library call no compiler vectorises.
// attend() fixes both without changing what is summed in which order:
//   * the cache stores keys transposed in blocks of 64 positions (kv_cache.h),
//     so the scores of 64 positions j are computed side by side in SIMD
//     lanes, each still summed over i = 0..d-1 in order (bitwise the naive
//     q . k_j), and the weighted sum of values keeps 4 partial sums;
//   * the softmax is kernels::softmax_row (tensor/kernels.h): the vectorisable
//     exp_f32 (~1 ulp) and 16 partial sums combined in a fixed order.
// attend_naive() is the textbook version the tests compare against (plain
// loops around the same softmax_row).
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
/// q (d,); keys in KVCache's blocked layout (ceil(n/64) blocks of (d, 64),
/// component i of key j at [(j/64)*d*64 + i*64 + j%64]); values (n, d)
/// row-major; out (d,); scores (n,) scratch. The reference: plain loops.
void attend_naive(const float* q, const float* keys, const float* values, int64_t n, int64_t d,
                  float* scores, float* out);

/// The fast twin of attend_naive, same arguments: SIMD score blocks and
/// register tiles. Same inputs, same bits on every ISA.
void attend(const float* q, const float* keys, const float* values, int64_t n, int64_t d,
            float* scores, float* out);

}  // namespace cpurich
