// module.h: the base of every layer: a node in a tree of named parameters.
//
// What it teaches: a neural network is a tree. GPT holds Blocks, a Block holds
// an attention and an MLP, those hold Linears, and the leaves are parameter
// tensors. Walking the tree and joining the names with dots gives every
// parameter a unique address ("h.0.attn.c_attn.weight") - the "state dict"
// that checkpoint files are keyed by. A module stores no pointers to its
// children; it only knows how to list them, so modules stay plain values
// that can be moved and returned from functions.
//
// Pipeline position: tensors -> autograd -> [nn modules] -> training / sampling.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "autograd/var.h"
#include "tensor/rng.h"

namespace cpurich {

/// (dotted name, parameter) pairs in a fixed order.
using NamedParameters = std::vector<std::pair<std::string, Var>>;
/// Called once per parameter with its dotted name and the module's own handle.
using ParameterVisitor = std::function<void(const std::string& name, Var& param)>;

/// How a module creates its parameters: their dtype (F32 to train, F64 for
/// gradient checks) and the generator random weights are drawn from. With
/// rng == nullptr weights stay zero because a checkpoint is about to be
/// copied over them (drawing 124M normals just to overwrite them is waste).
struct ParamInit {
  DType dtype = DType::F32;
  Rng* rng = nullptr;
};

/// N(0, std^2) of `shape` drawn from init.rng (zeros if it is null), as a
/// trainable leaf Var.
Var normal_param(const Shape& shape, double std, const ParamInit& init);
/// A trainable leaf Var filled with `value` (biases 0, LayerNorm gains 1).
Var constant_param(const Shape& shape, double value, const ParamInit& init);

/// Dropout settings for one forward pass: probability p, the generator the
/// masks are drawn from, and whether we are training (dropout is the identity
/// at evaluation time).
struct DropoutContext {
  double p = 0.0;
  Rng* rng = nullptr;
  bool training = false;
  /// x with dropout applied, or x itself (no op recorded) when inactive.
  Var operator()(const Var& x) const;
};

/// A layer or a group of layers owning named parameters.
///
/// Copying a module copies its Vars, which share their Nodes: the copy is a
/// second handle on the same parameters (like copying a Tensor), not a clone.
class Module {
 public:
  virtual ~Module() = default;

  /// Calls `visit` on every parameter of this subtree in a fixed order, each
  /// name prefixed with `prefix` (which ends with '.' or is empty). The one
  /// method every module implements: its own parameters, then each child's
  /// visit_parameters with the child's name appended to the prefix.
  virtual void visit_parameters(const std::string& prefix, const ParameterVisitor& visit) = 0;

  /// The whole subtree's parameters with dotted names (handles sharing the
  /// module's Nodes).
  NamedParameters named_parameters(const std::string& prefix = "") const;
  /// Sum of numel over the subtree's parameters.
  int64_t num_parameters() const;
  /// Makes the module compute with `params` (in named_parameters() order)
  /// instead of its own leaves, e.g. the leaves gradcheck creates. Throws
  /// std::invalid_argument on a count or shape mismatch.
  void set_parameters(const std::vector<Var>& params);

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  Module(Module&&) = default;
  Module& operator=(Module&&) = default;
};

/// Compares a state dict (name -> tensor) with a module's parameters and
/// returns "" when every parameter has a tensor of its shape and there is no
/// extra tensor, otherwise one line naming the missing tensors, the
/// unexpected ones and the first shape mismatch, e.g.
/// "h.0.attn.c_attn.weight has shape (64, 192), expected (128, 384)" +
/// shape_origin (such as " from config.json").
std::string state_dict_mismatch(const NamedParameters& params,
                                const std::map<std::string, Tensor>& tensors,
                                const std::string& shape_origin = "");

}  // namespace cpurich
