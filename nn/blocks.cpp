// blocks.cpp: MLP, CausalSelfAttention and Block (see blocks.h). The member
// initialisers run in declaration order, which is also the order random
// weights are drawn in: c_attn before c_proj, attention before MLP.
#include "nn/blocks.h"

#include <cmath>

#include "autograd/ops.h"

namespace cpurich {

namespace {
constexpr double kInitStd = 0.02;  // GPT-2's std for every weight matrix
}

double residual_init_std(int64_t n_layer) {
  return kInitStd / std::sqrt(2.0 * static_cast<double>(n_layer));
}

MLP::MLP(const GPTConfig& config, const ParamInit& init)
    : c_fc(config.n_embd, 4 * config.n_embd, kInitStd, init),
      c_proj(4 * config.n_embd, config.n_embd, residual_init_std(config.n_layer), init) {}

Var MLP::forward(const Var& x, bool training) const {
  return c_proj.forward(ag::gelu(c_fc.forward(x, training)), training);
}

void MLP::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  c_fc.visit_parameters(prefix + "c_fc.", visit);
  c_proj.visit_parameters(prefix + "c_proj.", visit);
}

CausalSelfAttention::CausalSelfAttention(const GPTConfig& config, const ParamInit& init)
    : c_attn(config.n_embd, 3 * config.n_embd, kInitStd, init),
      c_proj(config.n_embd, config.n_embd, residual_init_std(config.n_layer), init),
      n_head(config.n_head) {}

Var CausalSelfAttention::forward(const Var& x, bool training) const {
  const Var qkv = c_attn.forward(x, training);           // (B, T, 3C)
  const Var y = ag::causal_self_attention(qkv, n_head);  // (B, T, C), heads concatenated
  return c_proj.forward(y, training);                    // (B, T, C)
}

void CausalSelfAttention::visit_parameters(const std::string& prefix,
                                           const ParameterVisitor& visit) {
  c_attn.visit_parameters(prefix + "c_attn.", visit);
  c_proj.visit_parameters(prefix + "c_proj.", visit);
}

Block::Block(const GPTConfig& config, const ParamInit& init)
    : ln_1(config.n_embd, config.layer_norm_epsilon, init),
      attn(config, init),
      ln_2(config.n_embd, config.layer_norm_epsilon, init),
      mlp(config, init) {}

//! [block_forward]
Var Block::forward(const Var& x, const DropoutContext& drop) const {
  const Var h = ag::add(x, drop(attn.forward(ln_1.forward(x), drop.training)));  // (B, T, C)
  return ag::add(h, drop(mlp.forward(ln_2.forward(h), drop.training)));
}
//! [block_forward]

void Block::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  ln_1.visit_parameters(prefix + "ln_1.", visit);
  attn.visit_parameters(prefix + "attn.", visit);
  ln_2.visit_parameters(prefix + "ln_2.", visit);
  mlp.visit_parameters(prefix + "mlp.", visit);
}

}  // namespace cpurich
