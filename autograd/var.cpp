// var.cpp: the autograd engine: recording the graph, sorting it, running the
// backward closures and freeing the graph afterwards.
//
// What it teaches: reverse-mode differentiation is the chain rule applied from
// the loss backwards. Each op's closure turns dL/dout into dL/dinput; the
// engine's only jobs are (1) calling the closures in an order where every
// node's gradient is complete before it is used and (2) adding up the
// contributions of every consumer of a value (a value used twice gets two).
//
// Pipeline position: tensors -> [autograd] -> nn modules -> training.
#include "autograd/var.h"

#include <stdexcept>
#include <unordered_set>
#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "autograd/profiler.h"
#include "tensor/parallel.h"

namespace cpurich {
namespace {

// Grad mode is per thread, so a data-loader or evaluation thread running under
// NoGradGuard does not switch recording off for the training thread.
thread_local bool t_grad_enabled = true;

// A training step allocates the same activation and gradient buffers (up to
// a few MB each) every step and frees them when the graph is released. By
// default glibc serves blocks above 128 KB with mmap and returns them to the
// OS on free, so every step pays page faults and the kernel zeroing pages
// again: measured, that doubled the step time of the tiny GPT. Raising the
// mmap threshold keeps such blocks in the heap. The heap itself is trimmed
// (its free top returned to the OS) once that top exceeds M_TRIM_THRESHOLD:
// at the end of a `small` step several GB of activations are free at once,
// so any finite threshold gave them back and the next step page-faulted them
// in again (~15% of its time in the kernel). -1 turns trimming off: the
// process keeps its peak footprint, which the next step needs anyway.
// (Set once at start-up, before main, by this object's constructor.)
struct KeepFreedMemory {
  KeepFreedMemory() {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, -1);
    mallopt(M_TOP_PAD, 64 << 20);
#endif
  }
};
const KeepFreedMemory keep_freed_memory;

bool grad_allocated(const Node& n) {
  return n.grad.shape() == n.value.shape() && n.grad.dtype() == n.value.dtype();
}

// dst += src, elementwise. dst is contiguous (every grad we allocate is);
// src may be any view of the same shape.
template <class T>
void add_inplace(T* dst, const T* src, int64_t n) {
  parallel_for_if(n > 65536, 0, n, [&](int64_t i) { dst[i] += src[i]; });
}

void add_into(Tensor& dst, const Tensor& src) {
  if (src.shape() != dst.shape() || src.dtype() != dst.dtype())
    throw ShapeError("gradient of shape " + shape_str(src.shape()) + " " + dtype_name(src.dtype()) +
                     " does not match " + shape_str(dst.shape()) + " " + dtype_name(dst.dtype()));
  const Tensor s = src.contiguous();
  if (dst.dtype() == DType::F32)
    add_inplace(dst.data_f32(), s.data_f32(), dst.numel());
  else if (dst.dtype() == DType::F64)
    add_inplace(dst.data_f64(), s.data_f64(), dst.numel());
  else
    throw std::invalid_argument("gradients must be f32 or f64");
}

}  // namespace

// ---- Var ---------------------------------------------------------------------

Var::Var(Tensor value, bool requires_grad) : node_(std::make_shared<Node>()) {
  node_->value = std::move(value);
  node_->requires_grad = requires_grad;
}

const Tensor& Var::value() const {
  if (!node_) throw std::logic_error("Var::value() on an undefined Var");
  return node_->value;
}

Tensor& Var::value_mut() {
  if (!node_) throw std::logic_error("Var::value_mut() on an undefined Var");
  return node_->value;
}

bool Var::requires_grad() const {
  return node_ && node_->requires_grad;
}

Tensor& Var::grad() const {
  if (!node_) throw std::logic_error("Var::grad() on an undefined Var");
  if (!grad_allocated(*node_))
    node_->grad = Tensor::zeros(node_->value.shape(), node_->value.dtype());
  return node_->grad;
}

bool Var::has_grad() const {
  return node_ && grad_allocated(*node_);
}

void Var::zero_grad() const {
  if (node_) node_->grad = Tensor();
}

void Var::backward() const {
  if (!node_) throw std::logic_error("backward() on an undefined Var");
  if (value().numel() != 1)
    throw ShapeError("backward() without a seed needs a scalar, got shape " +
                     shape_str(value().shape()));
  backward(Tensor::ones(value().shape(), value().dtype()));
}

// Why a topological sort and not a plain depth-first walk that pushes each
// gradient to the parents as soon as it visits a node: in a graph where a
// value feeds two consumers (x used by both attention and the residual add,
// or mul(x, x)), the walk would reach x through the first consumer and push
// x's gradient further back while the second consumer has not yet added its
// share: the parents would get an incomplete gradient (or, if x is visited
// again, the first share twice). Processing nodes in reverse topological
// order guarantees every consumer of x has run before x itself.
void Var::backward(const Tensor& seed) const {
  if (!node_) throw std::logic_error("backward() on an undefined Var");
  if (seed.shape() != value().shape())
    throw ShapeError("backward seed of shape " + shape_str(seed.shape()) +
                     " does not match the output shape " + shape_str(value().shape()));
  if (!node_->requires_grad) return;  // nothing upstream needs a gradient
  accumulate_grad(*this, seed.to(value().dtype()));

  const std::vector<Node*> order = topological_order(node_.get());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node& n = **it;
    if (!n.backward) continue;  // a leaf: its grad is the result
    if (grad_allocated(n)) {
      ProfileScope scope(profiler_enabled() ? op_class_of(n.op) : OpClass::Other, true);
      const bool root = &n == node_.get();
      const Tensor kept = root ? n.grad.clone() : Tensor();  // the closure may consume n.grad
      n.backward(n);
      if (root) n.grad = kept;
    }
    // Done with this node: free what its closure saved (activations) and its
    // gradient now, so the next allocations reuse this (cache-warm) memory.
    // Interior gradients are not kept (as in PyTorch); leaves keep theirs.
    n.backward = nullptr;
    if (&n != node_.get()) n.grad = Tensor();
  }
  // Free the graph. Interior nodes drop their parents; the dropped Vars are
  // parked in `graveyard` so no node dies while `order` still points at it,
  // and because every node's parent list is already empty when the graveyard
  // is destroyed, the destruction never recurses down a long chain of nodes
  // (which could overflow the call stack for a deep network).
  std::vector<Var> graveyard;
  for (Node* n : order) {
    for (Var& p : n->parents) graveyard.push_back(std::move(p));
    n->parents.clear();
  }
}

// When the last Var of a node goes, the node's parents would be released
// recursively: parent destructor inside child destructor, one nesting level
// per node of a chain. Instead, parents whose only owner is this chain are
// emptied into a local worklist first, so each destructor runs with no parents.
Node::~Node() {
  std::vector<Var> pending = std::move(parents);
  while (!pending.empty()) {
    Var v = std::move(pending.back());
    pending.pop_back();
    const std::shared_ptr<Node>& n = v.node();
    if (n && n.use_count() == 1)
      for (Var& p : n->parents) pending.push_back(std::move(p));
  }  // v dies at the end of each iteration, with an empty parent list
}

// ---- recording -------------------------------------------------------------------

Var make_op_result(Tensor value, std::vector<Var> parents, std::string op,
                   std::function<void(Node& self)> backward) {
  Var out(std::move(value), false);
  if (!t_grad_enabled) return out;
  bool needs = false;
  for (const Var& p : parents) needs = needs || p.requires_grad();
  if (!needs) return out;
  Node& n = *out.node();
  n.requires_grad = true;
  n.parents = std::move(parents);
  n.backward = std::move(backward);
  n.op = std::move(op);
  return out;
}

void accumulate_grad(const Var& parent, const Tensor& g) {
  if (!parent.requires_grad()) return;
  Node& n = *parent.node();
  if (!grad_allocated(n)) {
    if (g.shape() != n.value.shape() || g.dtype() != n.value.dtype())
      throw ShapeError("gradient of shape " + shape_str(g.shape()) +
                       " does not match the value shape " + shape_str(n.value.shape()));
    n.grad = g.clone();  // a copy: g may be shared (e.g. add passes dy to both inputs)
    return;
  }
  add_into(n.grad, g);
}

void accumulate_grad_owned(const Var& parent, Tensor g) {
  if (!parent.requires_grad()) return;
  Node& n = *parent.node();
  if (!grad_allocated(n) && g.is_contiguous() && g.shape() == n.value.shape() &&
      g.dtype() == n.value.dtype()) {
    n.grad = std::move(g);
    return;
  }
  accumulate_grad(parent, g);
}

Tensor* grad_accumulator(const Var& parent) {
  if (!parent.requires_grad()) return nullptr;
  return &parent.grad();
}

GradOut grad_output(const Var& parent) {
  if (!parent.requires_grad()) return {};
  Node& n = *parent.node();
  if (grad_allocated(n)) return {&n.grad, false};
  n.grad = Tensor::uninitialized(n.value.shape(), n.value.dtype());
  return {&n.grad, true};
}

bool grad_enabled() {
  return t_grad_enabled;
}

NoGradGuard::NoGradGuard() : previous_(t_grad_enabled) {
  t_grad_enabled = false;
}
NoGradGuard::~NoGradGuard() {
  t_grad_enabled = previous_;
}

// Iterative post-order DFS: a node is emitted after all its parents, so the
// returned vector is a topological order (inputs first, root last). An
// explicit stack instead of recursion: a 48-layer model records thousands of
// nodes in a chain, and one C++ stack frame per node could overflow.
std::vector<Node*> topological_order(Node* root) {
  std::vector<Node*> order;
  if (root == nullptr) return order;
  std::unordered_set<Node*> visited{root};
  std::vector<std::pair<Node*, size_t>> stack{{root, 0}};  // (node, next parent to visit)
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    if (next < node->parents.size()) {
      Node* p = node->parents[next++].node().get();
      if (p != nullptr && p->requires_grad && visited.insert(p).second) stack.push_back({p, 0});
    } else {
      order.push_back(node);  // all parents emitted: the node may follow
      stack.pop_back();
    }
  }
  return order;
}

}  // namespace cpurich
