// Tests of the autograd engine: recording, NoGradGuard, accumulation,
// topological order and freeing the graph after backward.
#include <catch2/catch.hpp>
#include <memory>

#include "autograd/ops.h"
#include "autograd/var.h"

using namespace cpurich;

namespace {
Tensor vec(std::vector<double> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector(v, {n});
}
}  // namespace

TEST_CASE("a value used twice receives both contributions", "[engine]") {
  Var x(vec({1.0, -2.0, 3.0}), true);
  ag::sum_all(ag::mul(x, x)).backward();  // d/dx sum x^2 = 2x
  CHECK(x.grad().to_vector() == std::vector<double>{2.0, -4.0, 6.0});
}

TEST_CASE("diamond graph: d(a*b + a)/da = b + 1", "[engine]") {
  Var a(vec({2.0, 3.0}), true), b(vec({5.0, -1.0}), true);
  ag::sum_all(ag::add(ag::mul(a, b), a)).backward();
  CHECK(a.grad().to_vector() == std::vector<double>{6.0, 0.0});
  CHECK(b.grad().to_vector() == std::vector<double>{2.0, 3.0});
}

TEST_CASE("gradients accumulate across two backward calls until zero_grad", "[engine]") {
  Var x(vec({1.0, 2.0}), true);
  ag::sum_all(ag::mul_scalar(x, 3.0)).backward();
  ag::sum_all(ag::mul_scalar(x, 3.0)).backward();
  CHECK(x.grad().to_vector() == std::vector<double>{6.0, 6.0});
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
  CHECK(x.grad().to_vector() == std::vector<double>{0.0, 0.0});
}

TEST_CASE("NoGradGuard records nothing and restores the mode", "[engine]") {
  Var x(vec({1.0, 2.0}), true);
  REQUIRE(grad_enabled());
  {
    NoGradGuard guard;
    CHECK_FALSE(grad_enabled());
    Var y = ag::mul(x, x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.node()->parents.empty());
    CHECK_FALSE(static_cast<bool>(y.node()->backward));
    { NoGradGuard nested; }
    CHECK_FALSE(grad_enabled());  // the nested guard restored "off", not "on"
  }
  CHECK(grad_enabled());
  CHECK(ag::mul(x, x).requires_grad());
}

TEST_CASE("ops on constants only record nothing", "[engine]") {
  Var c(vec({1.0, 2.0}), false);
  Var y = ag::add(c, c);
  CHECK_FALSE(y.requires_grad());
  CHECK(y.node()->parents.empty());
}

TEST_CASE("the graph is freed after backward", "[engine]") {
  Var x(vec({1.0, 2.0}), true);
  Var h = ag::mul(x, x);
  std::weak_ptr<Node> interior = h.node();
  Var y = ag::sum_all(h);
  h = Var();
  REQUIRE_FALSE(interior.expired());  // y's parent list keeps it alive
  y.backward();
  CHECK(interior.expired());
  CHECK(y.node()->parents.empty());
  CHECK_FALSE(static_cast<bool>(y.node()->backward));
  CHECK(x.grad().to_vector() == std::vector<double>{2.0, 4.0});  // leaves keep grads
}

TEST_CASE("topological order puts parents before children", "[engine]") {
  Var a(vec({1.0}), true), b(vec({2.0}), true);
  Var c = ag::mul(a, b);
  Var d = ag::add(c, a);
  Var e = ag::mul(d, c);
  const std::vector<Node*> order = topological_order(e.node().get());
  REQUIRE(order.size() == 5);
  auto pos = [&order](const Var& v) {
    return std::find(order.begin(), order.end(), v.node().get()) - order.begin();
  };
  CHECK(pos(a) < pos(c));
  CHECK(pos(b) < pos(c));
  CHECK(pos(c) < pos(d));
  CHECK(pos(d) < pos(e));
  CHECK(order.back() == e.node().get());
}

TEST_CASE("a long chain back-propagates without recursion", "[engine]") {
  Var x(vec({1.0}), true);
  Var y = x;
  for (int i = 0; i < 20000; ++i) y = ag::add_scalar(y, 1.0);
  y.backward();
  CHECK(x.grad().item() == 1.0);
  CHECK(y.value().item() == 20001.0);
}

TEST_CASE("backward checks its seed", "[engine]") {
  Var x(vec({1.0, 2.0}), true);
  Var y = ag::mul_scalar(x, 2.0);
  CHECK_THROWS_AS(y.backward(), ShapeError);  // not a scalar: needs a seed
  CHECK_THROWS_AS(y.backward(vec({1.0, 2.0, 3.0})), ShapeError);
  y.backward(vec({1.0, 10.0}));
  CHECK(x.grad().to_vector() == std::vector<double>{2.0, 20.0});
}

TEST_CASE("grad_accumulator allocates zeros once and skips constants", "[engine]") {
  Var w(vec({1.0, 2.0}), true), c(vec({1.0}), false);
  CHECK(grad_accumulator(c) == nullptr);
  Tensor* g = grad_accumulator(w);
  REQUIRE(g != nullptr);
  CHECK(g->to_vector() == std::vector<double>{0.0, 0.0});
  g->fill(1.5);
  CHECK(grad_accumulator(w)->to_vector() == std::vector<double>{1.5, 1.5});
  CHECK_THROWS_AS(accumulate_grad(w, vec({1.0})), ShapeError);
}

TEST_CASE("dropping a long graph without backward does not recurse", "[engine]") {
  Var x(vec({1.0}), true);
  std::weak_ptr<Node> first;
  {
    Var y = ag::add_scalar(x, 1.0);
    first = y.node();
    for (int i = 0; i < 100000; ++i) y = ag::mul_scalar(y, 1.0);
  }  // one recursive destructor per node would overflow the stack here
  CHECK(first.expired());
  CHECK(x.node().use_count() == 1);  // the chain released its reference to x
}

TEST_CASE("grad_output is fresh only when it allocates", "[engine]") {
  Var w(vec({1.0, 2.0}), true), c(vec({1.0}), false);
  CHECK(grad_output(c).grad == nullptr);
  const GradOut first = grad_output(w);
  REQUIRE(first.grad != nullptr);
  CHECK(first.fresh);  // uninitialised: the caller must write every element
  CHECK(first.grad->shape() == w.shape());
  first.grad->fill(0.5);
  const GradOut second = grad_output(w);
  CHECK(second.grad == first.grad);
  CHECK_FALSE(second.fresh);  // now it holds a gradient: add to it
  CHECK(w.grad().to_vector() == std::vector<double>{0.5, 0.5});
}

// add hands its own gradient to its first input without a copy; the root's
// gradient must survive that, and a == b must still receive both shares.
TEST_CASE("add moves its gradient on but the root keeps its own", "[engine]") {
  Var a(vec({1.0, 2.0}), true), b(vec({3.0, 4.0}), true);
  Var y = ag::add(a, b);
  y.backward(vec({1.0, -2.0}));
  CHECK(y.grad().to_vector() == std::vector<double>{1.0, -2.0});
  CHECK(a.grad().to_vector() == std::vector<double>{1.0, -2.0});
  CHECK(b.grad().to_vector() == std::vector<double>{1.0, -2.0});
  Var x(vec({1.0, 2.0}), true);
  ag::add(x, x).backward(vec({3.0, 5.0}));
  CHECK(x.grad().to_vector() == std::vector<double>{6.0, 10.0});
  Var r(Tensor::from_vector(std::vector<float>{1.0f, 2.0f}, {2}), true);
  Var s = ag::reshape(ag::add(r, r), {1, 2});  // f32 fast add under a reshape root
  s.backward(Tensor::from_vector(std::vector<float>{1.0f, 1.0f}, {1, 2}));
  CHECK(s.grad().to_vector() == std::vector<double>{1.0, 1.0});
  CHECK(r.grad().to_vector() == std::vector<double>{2.0, 2.0});
}
