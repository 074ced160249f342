// calibration.cpp: one no-grad pass of the blocks, recording each Linear's
// input (see calibration.h). The pass restates Block::forward with the
// Linears' inputs made visible; a test checks it reaches the same logits.
#include "compress/calibration.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "autograd/ops.h"
#include "autograd/var.h"

namespace cpurich::compress {

LinearStats::LinearStats(int64_t in_features)
    : in(in_features),
      xtx(static_cast<size_t>(in_features * in_features), 0.0),
      sq(static_cast<size_t>(in_features), 0.0) {}

void LinearStats::add(std::span<const float> x, int64_t n) {
  // Upper triangle only (xtx is symmetric); hessian() mirrors it.
  for (int64_t s = 0; s < n; ++s) {
    const float* row = x.data() + s * in;
    for (int64_t i = 0; i < in; ++i) {
      const double xi = row[i];
      if (xi == 0.0) continue;
      double* dst = xtx.data() + i * in;
      for (int64_t j = i; j < in; ++j) dst[j] += xi * static_cast<double>(row[j]);
      sq[i] += xi * xi;
    }
  }
  samples += n;
}

std::vector<double> LinearStats::hessian() const {
  std::vector<double> h(xtx.size(), 0.0);
  const double scale = samples > 0 ? 2.0 / static_cast<double>(samples) : 0.0;
  for (int64_t i = 0; i < in; ++i)
    for (int64_t j = i; j < in; ++j) {
      h[i * in + j] = scale * xtx[i * in + j];
      h[j * in + i] = h[i * in + j];
    }
  return h;
}

std::vector<double> LinearStats::mean_square() const {
  std::vector<double> m(sq);
  for (double& v : m) v = samples > 0 ? v / static_cast<double>(samples) : 0.0;
  return m;
}

std::vector<double> LinearStats::column_norms() const {
  std::vector<double> m(sq);
  for (double& v : m) v = std::sqrt(v);
  return m;
}

std::vector<std::string> linear_names(const GPTConfig& config) {
  std::vector<std::string> names;
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string p = "h." + std::to_string(l) + ".";
    for (const char* s : {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"})
      names.push_back(p + s);
  }
  return names;
}

const Linear& find_linear(const GPT& model, const std::string& name) {
  // "h.<l>.<attn|mlp>.<c_attn|c_proj|c_fc>"
  const auto dot = name.find('.', 2);
  if (!name.starts_with("h.") || dot == std::string::npos)
    throw std::invalid_argument("not a Linear of the model: " + name);
  const int64_t l = std::stoll(name.substr(2, dot - 2));
  if (l < 0 || l >= static_cast<int64_t>(model.h().size()))
    throw std::invalid_argument("not a Linear of the model: " + name);
  const Block& b = model.h()[l];
  const std::string rest = name.substr(dot + 1);
  if (rest == "attn.c_attn") return b.attn.c_attn;
  if (rest == "attn.c_proj") return b.attn.c_proj;
  if (rest == "mlp.c_fc") return b.mlp.c_fc;
  if (rest == "mlp.c_proj") return b.mlp.c_proj;
  throw std::invalid_argument("not a Linear of the model: " + name);
}

std::vector<double> linear_weight_out_in(const GPT& model, const std::string& name) {
  const Tensor w =
      find_linear(model, name).weight.value().to(DType::F64).contiguous();  // (in, out)
  const int64_t in = w.shape()[0], out = w.shape()[1];
  const double* p = w.data_f64();
  std::vector<double> r(static_cast<size_t>(in * out));
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o) r[o * in + i] = p[i * out + o];
  return r;
}

void set_linear_weight_out_in(GPT& model, const std::string& name, std::span<const double> w) {
  Linear* lin = nullptr;
  for (const auto& [n, l] : model.linear_modules())
    if (n == name) lin = l;
  if (lin == nullptr) throw std::invalid_argument("not a Linear of the model: " + name);
  Tensor& t = lin->weight.value_mut();  // (in, out)
  const int64_t in = t.shape()[0], out = t.shape()[1];
  if (static_cast<int64_t>(w.size()) != in * out)
    throw std::invalid_argument("weight size mismatch for " + name);
  for (int64_t i = 0; i < in; ++i)
    for (int64_t o = 0; o < out; ++o) t.set({i, o}, w[o * in + i]);
}

namespace {

void record(Calibration& cal, const std::string& name, const Var& x) {
  const Tensor t = x.value().to(DType::F32).contiguous();
  const int64_t in = t.shape().back();
  auto it = cal.try_emplace(name, in).first;
  it->second.add(t.span_f32(), t.numel() / in);
}

}  // namespace

//! [calibration_pass]
Calibration collect_calibration(const GPT& model, std::span<const int32_t> ids, int64_t seq_len) {
  const GPTConfig& c = model.config();
  if (ids.empty()) throw std::invalid_argument("calibration: no token ids");
  if (seq_len < 1 || seq_len > c.n_positions)
    throw std::invalid_argument("calibration: sequence length must be in 1.." +
                                std::to_string(c.n_positions));
  NoGradGuard no_grad;
  std::vector<int32_t> positions(static_cast<size_t>(seq_len));
  std::iota(positions.begin(), positions.end(), 0);
  Calibration cal;
  for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(seq_len)) {
    const auto window = ids.subspan(start, std::min(ids.size() - start, size_t(seq_len)));
    const int64_t T = static_cast<int64_t>(window.size());
    Var x = ag::add(model.wte().forward(window),
                    model.wpe().forward(std::span(positions).first(T)));  // (T, C)
    x = ag::reshape(x, {1, T, c.n_embd});
    for (size_t l = 0; l < model.h().size(); ++l) {
      const Block& b = model.h()[l];
      const std::string p = "h." + std::to_string(l) + ".";
      const Var a = b.ln_1.forward(x);
      record(cal, p + "attn.c_attn", a);
      const Var y = ag::causal_self_attention(b.attn.c_attn.forward(a), b.attn.n_head);
      record(cal, p + "attn.c_proj", y);
      const Var h = ag::add(x, b.attn.c_proj.forward(y));
      const Var m = b.ln_2.forward(h);
      record(cal, p + "mlp.c_fc", m);
      const Var g = ag::gelu(b.mlp.c_fc.forward(m));
      record(cal, p + "mlp.c_proj", g);
      x = ag::add(h, b.mlp.c_proj.forward(g));
    }
  }
  return cal;
}
//! [calibration_pass]

}  // namespace cpurich::compress
