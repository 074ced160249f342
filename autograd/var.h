// var.h: reverse-mode automatic differentiation ("autograd").
//
// What it teaches: during the forward pass every op records a Node holding
// its output value, its inputs (parents) and a closure that, given the
// gradient of the loss w.r.t. its output (dL/dout), adds dL/dinput to each
// parent's grad (chain rule). backward() visits nodes in reverse topological
// order, so a node's grad is complete (all consumers have contributed) before
// it is pushed further back. The sort is iterative (explicit stack): a deep
// graph (many layers x many ops) would overflow the call stack if recursive.
//
// Pipeline position: tensors -> [autograd] -> nn modules -> training.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace cpurich {

struct Node;

/// A tensor that remembers how it was computed. Copies share the same Node.
class Var {
 public:
  Var() = default;
  /// A leaf. requires_grad marks a trainable parameter (or a gradcheck input).
  explicit Var(Tensor value, bool requires_grad = false);

  const Tensor& value() const;
  Tensor& value_mut();  ///< for optimizers updating parameters in place
  const Shape& shape() const { return value().shape(); }
  bool requires_grad() const;
  bool defined() const { return node_ != nullptr; }
  /// dL/dthis after backward(); a zero tensor of value's shape if never reached.
  Tensor& grad() const;
  bool has_grad() const;
  void zero_grad() const;  ///< drops the gradient (it is re-created on demand)

  /// Backpropagates from this scalar (seed 1), then frees the graph: every
  /// interior node drops its parents, closure and gradient. Leaves (and this
  /// root) keep their grads.
  void backward() const;
  /// Same with an explicit seed gradient of this Var's shape.
  void backward(const Tensor& seed) const;

  const std::shared_ptr<Node>& node() const { return node_; }

 private:
  std::shared_ptr<Node> node_;
};

/// One recorded operation. `backward(self)` reads self.grad and accumulates
/// into the parents' grads (via accumulate_grad). It may also consume
/// self.grad (move it into a parent, see add): the engine frees it right
/// after anyway, and keeps a copy for the root.
struct Node {
  Tensor value;
  Tensor grad;  ///< empty until the first contribution arrives
  bool requires_grad = false;
  std::vector<Var> parents;
  std::function<void(Node& self)> backward;
  std::string op = "leaf";

  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  /// Releases the parents iteratively: dropping a long unreleased graph (a
  /// forward pass without backward) must not recurse once per node.
  ~Node();
};

/// Builds an op's result: when grad mode is on and some parent requires grad,
/// the node records parents + backward; otherwise it is a plain constant.
Var make_op_result(Tensor value, std::vector<Var> parents, std::string op,
                   std::function<void(Node& self)> backward);
/// parent.grad += g (allocates parent.grad on first use); no-op if the parent
/// does not require grad. g must have the parent's shape.
void accumulate_grad(const Var& parent, const Tensor& g);

/// Like accumulate_grad, but g is a fresh tensor nobody else holds: on the
/// first contribution it becomes the parent's grad without a copy.
void accumulate_grad_owned(const Var& parent, Tensor g);
/// The parent's grad buffer (contiguous, allocated as zeros on first use) so a
/// backward can write into it directly, e.g. a GEMM with beta = 1 adds
/// dW = x^T @ dy into it without a temporary. nullptr if the parent needs no grad.
Tensor* grad_accumulator(const Var& parent);

/// Where a backward writes one parent's gradient (see grad_output).
struct GradOut {
  Tensor* grad = nullptr;  ///< nullptr if the parent needs no gradient
  bool fresh = false;      ///< just allocated and uninitialised: write (=), do not add (+=)
};
/// Like grad_accumulator, but a buffer allocated now is not zero-filled: when
/// `fresh`, the backward must overwrite every element (a GEMM with beta = 0,
/// `dx[i] = ...` instead of `dx[i] += ...`). For the large activation
/// gradients this saves a zero-fill pass and a read of the zeros.
GradOut grad_output(const Var& parent);

/// Is the graph being recorded? (false inside a NoGradGuard)
bool grad_enabled();
/// RAII scope with recording off: inference and optimizer updates use it.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Nodes reachable from root, parents before children (iterative DFS).
std::vector<Node*> topological_order(Node* root);

}  // namespace cpurich
