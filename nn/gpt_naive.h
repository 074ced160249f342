// gpt_naive.h: the whole GPT-2 forward pass in plain double-precision loops
// over std::vector: no Tensor, no autograd, no kernels.
//
// What it teaches: every step of GPT::forward written straight from the math,
// one loop nest per operation, so a learner can read the model top to bottom
// in one file and check the real, fast model against it. The tests compare
// GPT::forward with it (to 1e-10 in float64), and lesson 04 prints the
// largest difference. It reads the weights by their Hugging Face names from
// GPT::state_dict(), so it shares no code with nn/ beyond GPTConfig.
//
// Pipeline position: tokens -> [model forward, reference] -> logits.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/config.h"
#include "tensor/tensor.h"

namespace cpurich::naive {

/// A matrix as rows: m[t][c].
using Mat = std::vector<std::vector<double>>;
/// Every parameter as a flat row-major double vector, by its HF name.
using Params = std::map<std::string, std::vector<double>>;

/// Converts a state dict (any float dtype) to Params.
Params to_doubles(const std::map<std::string, Tensor>& state_dict);

/// y = x (T, in) @ w (in, out) + b (out) -> (T, out).
Mat linear(const Mat& x, const std::vector<double>& w, const std::vector<double>& b, size_t in,
           size_t out);

/// Per row: (x - mean) / sqrt(var + eps) * w + b (biased variance). x (T, C) -> (T, C).
Mat layer_norm(const Mat& x, const std::vector<double>& w, const std::vector<double>& b,
               double eps);

/// GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
double gelu(double x);

/// Causal softmax attention per head, heads concatenated.
/// qkv (T, 3C) holding [q | k | v] -> (T, C).
Mat attention(const Mat& qkv, size_t C, size_t H);

/// Logits (T, V) of one sequence of T = ids.size() <= n_positions tokens.
Mat gpt_logits(const GPTConfig& cfg, const Params& p, const std::vector<int32_t>& ids);

/// -log softmax(row)[target].
double nll(const std::vector<double>& row, int32_t target);

}  // namespace cpurich::naive
