// naive_gpt.h (tests only): an independent GPT-2 forward pass in plain
// double-precision loops over std::vector, written from the math rather than
// from nn/: the reference the real model is compared against.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/config.h"
#include "tensor/tensor.h"

namespace cpurich::testing {

using Mat = std::vector<std::vector<double>>;  // rows

/// Every parameter as a flat row-major double vector, by HF name.
inline std::map<std::string, std::vector<double>> to_doubles(
    const std::map<std::string, Tensor>& sd) {
  std::map<std::string, std::vector<double>> out;
  for (const auto& [name, t] : sd) out[name] = t.to_vector();
  return out;
}

// x (T, in) @ w (in, out) + b (out).
inline Mat naive_linear(const Mat& x, const std::vector<double>& w, const std::vector<double>& b,
                        size_t in, size_t out) {
  Mat y(x.size(), std::vector<double>(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (size_t o = 0; o < out; ++o) {
      double s = b[o];
      for (size_t i = 0; i < in; ++i) s += x[t][i] * w[i * out + o];
      y[t][o] = s;
    }
  return y;
}

inline Mat naive_layer_norm(const Mat& x, const std::vector<double>& w,
                            const std::vector<double>& b, double eps) {
  Mat y = x;
  for (size_t t = 0; t < x.size(); ++t) {
    const double n = static_cast<double>(x[t].size());
    double mean = 0, var = 0;
    for (double v : x[t]) mean += v / n;
    for (double v : x[t]) var += (v - mean) * (v - mean) / n;
    for (size_t c = 0; c < x[t].size(); ++c)
      y[t][c] = (x[t][c] - mean) / std::sqrt(var + eps) * w[c] + b[c];
  }
  return y;
}

inline double naive_gelu(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

// qkv (T, 3C) -> (T, C): causal softmax attention per head, heads concatenated.
inline Mat naive_attention(const Mat& qkv, size_t C, size_t H) {
  const size_t T = qkv.size(), D = C / H;
  Mat y(T, std::vector<double>(C, 0.0));
  for (size_t h = 0; h < H; ++h)
    for (size_t t = 0; t < T; ++t) {
      std::vector<double> s(t + 1);
      double m = -1e300, z = 0;
      for (size_t u = 0; u <= t; ++u) {
        double dot = 0;
        for (size_t d = 0; d < D; ++d) dot += qkv[t][h * D + d] * qkv[u][C + h * D + d];
        s[u] = dot / std::sqrt(static_cast<double>(D));
        m = std::max(m, s[u]);
      }
      for (size_t u = 0; u <= t; ++u) z += (s[u] = std::exp(s[u] - m));
      for (size_t u = 0; u <= t; ++u)
        for (size_t d = 0; d < D; ++d) y[t][h * D + d] += s[u] / z * qkv[u][2 * C + h * D + d];
    }
  return y;
}

/// Logits (T, V) of one sequence.
inline Mat naive_gpt_logits(const GPTConfig& cfg, std::map<std::string, std::vector<double>>& p,
                            const std::vector<int32_t>& ids) {
  const size_t C = static_cast<size_t>(cfg.n_embd), V = static_cast<size_t>(cfg.vocab_size);
  const size_t T = ids.size(), H = static_cast<size_t>(cfg.n_head);
  Mat x(T, std::vector<double>(C));
  for (size_t t = 0; t < T; ++t)
    for (size_t c = 0; c < C; ++c)
      x[t][c] = p["wte.weight"][static_cast<size_t>(ids[t]) * C + c] + p["wpe.weight"][t * C + c];
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Mat a = naive_layer_norm(x, p[h + "ln_1.weight"], p[h + "ln_1.bias"], cfg.layer_norm_epsilon);
    a = naive_linear(a, p[h + "attn.c_attn.weight"], p[h + "attn.c_attn.bias"], C, 3 * C);
    a = naive_attention(a, C, H);
    a = naive_linear(a, p[h + "attn.c_proj.weight"], p[h + "attn.c_proj.bias"], C, C);
    for (size_t t = 0; t < T; ++t)
      for (size_t c = 0; c < C; ++c) x[t][c] += a[t][c];
    Mat m = naive_layer_norm(x, p[h + "ln_2.weight"], p[h + "ln_2.bias"], cfg.layer_norm_epsilon);
    m = naive_linear(m, p[h + "mlp.c_fc.weight"], p[h + "mlp.c_fc.bias"], C, 4 * C);
    for (auto& row : m)
      for (double& v : row) v = naive_gelu(v);
    m = naive_linear(m, p[h + "mlp.c_proj.weight"], p[h + "mlp.c_proj.bias"], 4 * C, C);
    for (size_t t = 0; t < T; ++t)
      for (size_t c = 0; c < C; ++c) x[t][c] += m[t][c];
  }
  x = naive_layer_norm(x, p["ln_f.weight"], p["ln_f.bias"], cfg.layer_norm_epsilon);
  Mat logits(T, std::vector<double>(V, 0.0));
  for (size_t t = 0; t < T; ++t)
    for (size_t v = 0; v < V; ++v)
      for (size_t c = 0; c < C; ++c) logits[t][v] += x[t][c] * p["wte.weight"][v * C + c];
  return logits;
}

/// -log softmax(row)[target], in double.
inline double naive_nll(const std::vector<double>& row, int32_t target) {
  double m = row[0], z = 0;
  for (double v : row) m = std::max(m, v);
  for (double v : row) z += std::exp(v - m);
  return m + std::log(z) - row[static_cast<size_t>(target)];
}

}  // namespace cpurich::testing
