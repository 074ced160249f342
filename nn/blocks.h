// blocks.h: the transformer block of GPT-2 and its two halves.
//
//   Block:  x = x + dropout(attn(ln_1(x)))      tokens talk to each other
//           x = x + dropout(mlp(ln_2(x)))       each token thinks on its own
//   attn:   c_proj(causal_self_attention(c_attn(x)))   c_attn makes [q | k | v]
//   mlp:    c_proj(gelu(c_fc(x)))                      C -> 4C -> C
//
// Pre-LayerNorm (normalise the input of each branch, keep the residual
// stream x untouched) is what makes deep stacks trainable without warm-up
// tricks: the gradient flows straight down the additions.
//
// Pipeline position: layers -> [blocks] -> GPT.
#pragma once

#include <cstdint>
#include <string>

#include "nn/config.h"
#include "nn/layers.h"

namespace cpurich {

/// GPT-2 init std of the weights that write into the residual stream
/// (attn.c_proj, mlp.c_proj): 0.02 / sqrt(2 * n_layer). Each of the 2*n_layer
/// branches adds its output to x; scaling keeps the variance of the sum
/// independent of depth.
double residual_init_std(int64_t n_layer);

/// c_fc (C -> 4C), tanh GELU, c_proj (4C -> C).
class MLP : public Module {
 public:
  MLP(const GPTConfig& config, const ParamInit& init);
  /// x (B, T, C) -> (B, T, C); `training` reaches the Linears' LoRA dropout.
  Var forward(const Var& x, bool training = false) const;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Linear c_fc;
  Linear c_proj;
};

/// Multi-head causal self-attention in GPT-2's fused layout: one Linear
/// c_attn (C -> 3C) makes q, k and v side by side.
class CausalSelfAttention : public Module {
 public:
  CausalSelfAttention(const GPTConfig& config, const ParamInit& init);
  /// x (B, T, C) -> (B, T, C); `training` reaches the Linears' LoRA dropout.
  Var forward(const Var& x, bool training = false) const;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Linear c_attn;
  Linear c_proj;
  int64_t n_head;
};

/// One pre-LayerNorm transformer block.
class Block : public Module {
 public:
  Block(const GPTConfig& config, const ParamInit& init);
  /// x (B, T, C) -> (B, T, C); `drop` is applied to each branch's output.
  Var forward(const Var& x, const DropoutContext& drop) const;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  LayerNorm ln_1;
  CausalSelfAttention attn;
  LayerNorm ln_2;
  MLP mlp;
};

}  // namespace cpurich
