// layers.h: the leaf layers of a transformer: Linear, Embedding, LayerNorm,
// RMSNorm. Each one owns its parameter tensors and calls one autograd op.
//
// Pipeline position: tensors -> autograd -> [nn layers] -> blocks -> GPT.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "nn/module.h"

namespace cpurich {

class LoraAdapter;   // nn/lora.h
struct QuantMatrix;  // tensor/quant_formats.h

/// y = x @ weight + bias, with weight stored (in, out) like Hugging Face
/// GPT-2's Conv1D (so HF checkpoints load without transposing).
class Linear : public Module {
 public:
  /// weight ~ N(0, std^2) (in, out), bias = 0 (out) unless !has_bias.
  Linear(int64_t in, int64_t out, double std, const ParamInit& init, bool has_bias = true);
  /// x (..., in) -> (..., out), plus the LoRA adapter's term when one is
  /// attached (`training` switches the adapter's dropout on). With an NF4
  /// base (QLoRA, nn/qlora.h) the product runs on weight_nf4 instead.
  Var forward(const Var& x, bool training = false) const;
  /// Base parameters only: an adapter's are listed by nn/lora.h, so the
  /// state dict (and model.safetensors) never changes when one is attached.
  /// A weight released for an NF4 base is not visited.
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Var weight;                         ///< (in, out); undefined once an NF4 base replaces it
  Var bias;                           ///< (out), undefined when the layer has no bias
  std::shared_ptr<LoraAdapter> lora;  ///< optional low-rank update (nn/lora.h)
  /// QLoRA's frozen base: W^T (out, in) as NF4, read-only (nn/qlora.h).
  std::shared_ptr<const QuantMatrix> weight_nf4;
};

/// A lookup table: row i of weight is the vector for token (or position) i.
class Embedding : public Module {
 public:
  /// weight ~ N(0, std^2) of shape (num, dim).
  Embedding(int64_t num, int64_t dim, double std, const ParamInit& init);
  /// ids (N) -> (N, dim). Throws std::out_of_range naming an id >= num.
  Var forward(std::span<const int32_t> ids) const;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Var weight;  ///< (num, dim)
};

/// (x - mean) / sqrt(var + eps) * weight + bias over the last axis.
class LayerNorm : public Module {
 public:
  /// weight = 1, bias = 0, both (dim).
  LayerNorm(int64_t dim, double eps, const ParamInit& init);
  /// x (..., dim) -> (..., dim).
  Var forward(const Var& x) const;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Var weight;  ///< (dim)
  Var bias;    ///< (dim)
  double eps;
};

/// x / sqrt(mean(x^2) + eps) * weight over the last axis (Llama's norm: no
/// mean subtraction, no bias). Not used by GPT-2; here for experiments.
class RMSNorm : public Module {
 public:
  /// weight = 1 (dim).
  RMSNorm(int64_t dim, double eps, const ParamInit& init);
  /// x (..., dim) -> (..., dim).
  Var forward(const Var& x) const;
  void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) override;

  Var weight;  ///< (dim)
  double eps;
};

}  // namespace cpurich
