// adamw.cpp: AdamW update and gradient clipping (math in adamw.h).
//
// The update is elementwise, so splitting it across threads changes nothing
// in the result. The gradient norm is a sum: each parameter's part is summed
// by one thread in a fixed order, so the result never depends on threads.
#include "train/adamw.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace cpurich {

namespace {

// The AdamW update of one parameter tensor. p, g, m, v all hold n floats.
// bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (bias corrections), decay = lr * wd
// (0 for tensors that do not decay).
void adamw_update(float* p, const float* g, float* m, float* v, int64_t n, double lr, double decay,
                  const AdamWOptions& o, double bc1, double bc2) {
  const float b1 = static_cast<float>(o.beta1), b2 = static_cast<float>(o.beta2);
  const float step_size = static_cast<float>(lr / bc1);
  const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  const float eps = static_cast<float>(o.eps);
  const float keep = static_cast<float>(1.0 - decay);  // p *= (1 - lr*wd) first
  parallel_for_if(n > 32768, 0, n, [&](int64_t i) {
    m[i] = b1 * m[i] + (1.0f - b1) * g[i];
    v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
    const float denom = std::sqrt(v[i]) * inv_sqrt_bc2 + eps;
    p[i] = p[i] * keep - step_size * m[i] / denom;
  });
}

// sum_j d[j]^2 in double, in the fixed lane order of tensor/kernels.h:
// independent partial sums overlap their additions, and the order stays
// fixed, so the result does not depend on the thread count.
double sum_of_squares(const float* d, int64_t n) {
  return kernels::sum_lanes_of<double>(n, [d](int64_t j) {
    const auto v = static_cast<double>(d[j]);
    return v * v;
  });
}

}  // namespace

AdamW::AdamW(std::vector<std::pair<std::string, Var>> params, AdamWOptions options)
    : params_(std::move(params)), options_(options) {
  for (const auto& [name, p] : params_) {
    if (p.value().dtype() != DType::F32 || !p.value().is_contiguous())
      throw std::invalid_argument("AdamW: parameter " + name + " must be contiguous f32");
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

bool AdamW::decays(const std::string& name) const {
  for (const auto& [n, p] : params_)
    if (n == name) return p.value().dim() >= 2;
  throw std::invalid_argument("AdamW: no parameter named " + name);
}

void AdamW::step(double lr) {
  ++t_;
  const double bc1 = 1.0 - std::pow(options_.beta1, static_cast<double>(t_));
  const double bc2 = 1.0 - std::pow(options_.beta2, static_cast<double>(t_));
  // One parallel loop for the whole update (one fork/join per step, not one
  // per parameter): every parameter is cut into blocks of kUpdateBlock
  // elements and all blocks go into one list. Each element's update is the
  // same whichever block or thread computes it.
  constexpr int64_t kUpdateBlock = 32768;
  struct Block {
    std::size_t param;
    int64_t first, count;
  };
  std::vector<Tensor> grads;
  std::vector<Block> blocks;
  int64_t total = 0;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    const Var& p = params_[i].second;
    // A parameter the loss never reached has gradient 0: m, v still decay.
    grads.push_back(p.has_grad() ? p.grad().contiguous() : Tensor::zeros(p.shape()));
    const int64_t n = p.value().numel();
    for (int64_t j = 0; j < n; j += kUpdateBlock)
      blocks.push_back({.param = i, .first = j, .count = std::min(kUpdateBlock, n - j)});
    total += n;
  }
  parallel_for_if(total > kUpdateBlock, 0, static_cast<int64_t>(blocks.size()), [&](int64_t b) {
    const Block& blk = blocks[static_cast<std::size_t>(b)];
    Tensor& value = params_[blk.param].second.value_mut();
    const double decay = value.dim() >= 2 ? lr * options_.weight_decay : 0.0;
    const int64_t j = blk.first;
    adamw_update(value.data_f32() + j, grads[blk.param].data_f32() + j,
                 m_[blk.param].data_f32() + j, v_[blk.param].data_f32() + j, blk.count, lr, decay,
                 options_, bc1, bc2);
  });
}

void AdamW::zero_grad() {
  for (auto& [name, p] : params_) p.zero_grad();
}

std::map<std::string, Tensor> AdamW::state_tensors() const {
  std::map<std::string, Tensor> out;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    out["m." + params_[i].first] = m_[i];
    out["v." + params_[i].first] = v_[i];
  }
  return out;
}

void AdamW::load_state_tensors(const std::map<std::string, Tensor>& tensors, int64_t step_count) {
  if (step_count < 0) throw std::runtime_error("optimizer state: negative step count");
  for (std::size_t i = 0; i < params_.size(); ++i) {
    for (const char* prefix : {"m.", "v."}) {
      const std::string key = prefix + params_[i].first;
      auto it = tensors.find(key);
      if (it == tensors.end()) throw std::runtime_error("optimizer state: missing tensor " + key);
      if (it->second.shape() != params_[i].second.shape())
        throw std::runtime_error("optimizer state: tensor " + key + " has shape " +
                                 shape_str(it->second.shape()) + ", expected " +
                                 shape_str(params_[i].second.shape()));
      (prefix[0] == 'm' ? m_[i] : v_[i]).copy_from(it->second);
    }
  }
  t_ = step_count;
}

double global_grad_norm(const std::vector<std::pair<std::string, Var>>& params) {
  const int64_t n = static_cast<int64_t>(params.size());
  std::vector<double> partial(params.size(), 0.0);
  // One parameter per iteration: each partial sum is one thread's, in a fixed order.
  parallel_for(0, n, [&](int64_t i) {
    const Var& p = params[i].second;
    if (!p.has_grad()) return;
    const Tensor g = p.grad().contiguous();
    partial[i] = sum_of_squares(g.data_f32(), g.numel());
  });
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(partial[i]))
      throw NonFiniteError("non-finite gradient in parameter " + params[i].first);
    total += partial[i];
  }
  return std::sqrt(total);
}

double clip_grad_norm(const std::vector<std::pair<std::string, Var>>& params, double max_norm) {
  const double norm = global_grad_norm(params);
  if (max_norm <= 0.0 || norm <= max_norm) return norm;
  const float scale = static_cast<float>(max_norm / (norm + 1e-6));  // as torch's clip_grad_norm_
  for (const auto& [name, p] : params) {
    if (!p.has_grad()) continue;
    Tensor& g = p.grad();
    if (!g.is_contiguous()) g = g.contiguous();
    float* d = g.data_f32();
    const int64_t n = g.numel();  // read once: the loop then vectorises
    for (int64_t j = 0; j < n; ++j) d[j] *= scale;
  }
  return norm;
}

}  // namespace cpurich
