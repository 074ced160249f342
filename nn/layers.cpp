// layers.cpp: Linear, Embedding, LayerNorm and RMSNorm (see layers.h). The
// math and the backward passes live in autograd/; a layer only owns its
// parameters and names them.
#include "nn/layers.h"

#include <stdexcept>

#include "autograd/ops.h"
#include "nn/lora.h"

namespace cpurich {

Linear::Linear(int64_t in, int64_t out, double std, const ParamInit& init, bool has_bias)
    : weight(normal_param({in, out}, std, init)) {
  if (has_bias) bias = constant_param({out}, 0.0, init);
}

Var Linear::forward(const Var& x, bool training) const {
  if (weight_nf4) {  // QLoRA: the base exists only as NF4, decoded panel by panel
    if (!lora) throw std::logic_error("Linear: an NF4 base needs its adapter");
    return ag::linear_nf4_lora(x, lora->input(x, training), weight_nf4, bias, lora->A, lora->B,
                               lora->scale);
  }
  if (!lora) return ag::linear(x, weight, bias);
  // y = x W + b + s (xa A^T) B^T in one op (xa = x, or x after the adapter's dropout).
  return ag::linear_lora(x, lora->input(x, training), weight, bias, lora->A, lora->B, lora->scale);
}

void Linear::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  if (weight.defined()) visit(prefix + "weight", weight);
  if (bias.defined()) visit(prefix + "bias", bias);
}

Embedding::Embedding(int64_t num, int64_t dim, double std, const ParamInit& init)
    : weight(normal_param({num, dim}, std, init)) {}

Var Embedding::forward(std::span<const int32_t> ids) const {
  return ag::embedding(weight, ids);
}

void Embedding::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  visit(prefix + "weight", weight);
}

LayerNorm::LayerNorm(int64_t dim, double eps_, const ParamInit& init)
    : weight(constant_param({dim}, 1.0, init)), bias(constant_param({dim}, 0.0, init)), eps(eps_) {}

Var LayerNorm::forward(const Var& x) const {
  return ag::layer_norm(x, weight, bias, eps);
}

void LayerNorm::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  visit(prefix + "weight", weight);
  visit(prefix + "bias", bias);
}

RMSNorm::RMSNorm(int64_t dim, double eps_, const ParamInit& init)
    : weight(constant_param({dim}, 1.0, init)), eps(eps_) {}

Var RMSNorm::forward(const Var& x) const {
  return ag::rms_norm(x, weight, eps);
}

void RMSNorm::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  visit(prefix + "weight", weight);
}

}  // namespace cpurich
