// gpt_naive.cpp: the plain-loop GPT-2 forward (see gpt_naive.h).
#include "nn/gpt_naive.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace cpurich::naive {

Params to_doubles(const std::map<std::string, Tensor>& state_dict) {
  Params out;
  for (const auto& [name, t] : state_dict) out[name] = t.to_vector();
  return out;
}

Mat linear(const Mat& x, const std::vector<double>& w, const std::vector<double>& b, size_t in,
           size_t out) {
  Mat y(x.size(), std::vector<double>(out));
  for (size_t t = 0; t < x.size(); ++t)
    for (size_t o = 0; o < out; ++o) {
      double s = b[o];
      for (size_t i = 0; i < in; ++i) s += x[t][i] * w[i * out + o];
      y[t][o] = s;
    }
  return y;
}

Mat layer_norm(const Mat& x, const std::vector<double>& w, const std::vector<double>& b,
               double eps) {
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

double gelu(double x) {
  const double k = std::sqrt(2.0 / std::numbers::pi);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

Mat attention(const Mat& qkv, size_t C, size_t H) {
  const size_t T = qkv.size(), D = C / H;
  Mat y(T, std::vector<double>(C, 0.0));
  for (size_t h = 0; h < H; ++h)
    for (size_t t = 0; t < T; ++t) {
      // scores s_u = q_t . k_u / sqrt(D) for u <= t (causal), then softmax.
      std::vector<double> s(t + 1);
      double m = -1e300, z = 0;
      for (size_t u = 0; u <= t; ++u) {
        double dot = 0;
        for (size_t d = 0; d < D; ++d) dot += qkv[t][h * D + d] * qkv[u][C + h * D + d];
        s[u] = dot / std::sqrt(static_cast<double>(D));
        m = std::max(m, s[u]);
      }
      for (size_t u = 0; u <= t; ++u) z += (s[u] = std::exp(s[u] - m));
      // y_t = sum_u softmax(s)_u v_u
      for (size_t u = 0; u <= t; ++u)
        for (size_t d = 0; d < D; ++d) y[t][h * D + d] += s[u] / z * qkv[u][2 * C + h * D + d];
    }
  return y;
}

Mat gpt_logits(const GPTConfig& cfg, const Params& p, const std::vector<int32_t>& ids) {
  const size_t C = static_cast<size_t>(cfg.n_embd), V = static_cast<size_t>(cfg.vocab_size);
  const size_t T = ids.size(), H = static_cast<size_t>(cfg.n_head);
  const double eps = cfg.layer_norm_epsilon;
  const std::vector<double>& wte = p.at("wte.weight");
  const std::vector<double>& wpe = p.at("wpe.weight");
  // x_t = wte[id_t] + wpe[t]
  Mat x(T, std::vector<double>(C));
  for (size_t t = 0; t < T; ++t)
    for (size_t c = 0; c < C; ++c)
      x[t][c] = wte[static_cast<size_t>(ids[t]) * C + c] + wpe[t * C + c];
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    // x += proj(attention(qkv(ln_1(x))))
    Mat a = layer_norm(x, p.at(h + "ln_1.weight"), p.at(h + "ln_1.bias"), eps);
    a = linear(a, p.at(h + "attn.c_attn.weight"), p.at(h + "attn.c_attn.bias"), C, 3 * C);
    a = attention(a, C, H);
    a = linear(a, p.at(h + "attn.c_proj.weight"), p.at(h + "attn.c_proj.bias"), C, C);
    for (size_t t = 0; t < T; ++t)
      for (size_t c = 0; c < C; ++c) x[t][c] += a[t][c];
    // x += proj(gelu(fc(ln_2(x))))
    Mat m = layer_norm(x, p.at(h + "ln_2.weight"), p.at(h + "ln_2.bias"), eps);
    m = linear(m, p.at(h + "mlp.c_fc.weight"), p.at(h + "mlp.c_fc.bias"), C, 4 * C);
    for (auto& row : m)
      for (double& v : row) v = gelu(v);
    m = linear(m, p.at(h + "mlp.c_proj.weight"), p.at(h + "mlp.c_proj.bias"), 4 * C, C);
    for (size_t t = 0; t < T; ++t)
      for (size_t c = 0; c < C; ++c) x[t][c] += m[t][c];
  }
  x = layer_norm(x, p.at("ln_f.weight"), p.at("ln_f.bias"), eps);
  // logits_t = ln_f(x_t) @ wte^T (the output head shares the token embedding)
  Mat logits(T, std::vector<double>(V, 0.0));
  for (size_t t = 0; t < T; ++t)
    for (size_t v = 0; v < V; ++v)
      for (size_t c = 0; c < C; ++c) logits[t][v] += x[t][c] * wte[v * C + c];
  return logits;
}

double nll(const std::vector<double>& row, int32_t target) {
  double m = row[0], z = 0;
  for (double v : row) m = std::max(m, v);
  for (double v : row) z += std::exp(v - m);
  return m + std::log(z) - row[static_cast<size_t>(target)];
}

}  // namespace cpurich::naive
