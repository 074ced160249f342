// Lesson 03: automatic differentiation. The forward pass records a graph;
// backward() walks it in reverse and applies the chain rule at every node.
//
// What it teaches: (1) on scalars, the gradients autograd computes are exactly
// the ones you derive by hand; (2) the same machinery on tensors, where a
// gradient has the shape of its value; (3) gradcheck: finite differences as an
// independent referee for every backward formula, and how it catches a bug.
// Every claim it prints is checked; a false one makes the run exit 1.
//
// Pipeline position: tensors -> [autograd] -> nn modules -> training.
// Run: build/release/lessons/03_autograd
#include <cstdio>
#include <iostream>
#include <string>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "tensor/matmul.h"
#include "tensor/ops.h"
#include "tensor/rng.h"

using namespace cpurich;

namespace {

// Every claim the lesson prints is also checked; a false one fails the run.
int failed_claims = 0;
void claim(bool holds, const std::string& what) {
  if (!holds) {
    std::cout << "CLAIM FAILED: " << what << "\n";
    ++failed_claims;
  }
}

void section(const std::string& title, const std::string& explanation) {
  std::cout << "\n== " << title << " ==\n" << explanation << "\n\n";
}

Var scalar(double v) {
  return Var(Tensor::scalar(v, DType::F64), true);
}

void scalars_by_hand() {
  section("1. a scalar expression, by hand and by autograd",
          "f(a, b) = (a*b + a) * b. Name the steps c = a*b, d = c + a, f = d*b.\n"
          "Chain rule from the output back:  df/dd = b,  df/dc = df/dd * 1 = b,\n"
          "df/da = df/dc * b + df/dd * 1 = b*b + b  (a is used twice: two paths add),\n"
          "df/db = df/dc * a + d = a*b + a*b + a   (b is used twice as well).");
  const double av = 2.0, bv = 3.0;
  Var a = scalar(av), b = scalar(bv);
  Var c = ag::mul(a, b);
  Var d = ag::add(c, a);
  Var f = ag::mul(d, b);
  f.backward();
  std::printf("f = %g (by hand: %g)\n", f.value().item(), (av * bv + av) * bv);
  std::printf("%-6s %12s %12s\n", "", "autograd", "by hand");
  std::printf("%-6s %12g %12g\n", "df/da", a.grad().item(), bv * bv + bv);
  std::printf("%-6s %12g %12g\n", "df/db", b.grad().item(), 2 * av * bv + av);
  std::cout << "The graph is freed after backward: f now has " << f.node()->parents.size()
            << " parents.\n";
  // Small integers: every product and sum is exact in float64, so equality is exact too.
  claim(f.value().item() == (av * bv + av) * bv, "f equals the value by hand");
  claim(a.grad().item() == bv * bv + bv, "df/da = b*b + b: the two paths through a add");
  claim(b.grad().item() == 2 * av * bv + av, "df/db = a*b + a*b + a");
  claim(f.node()->parents.empty(), "backward frees the graph");
}

void tensors() {
  section("2. the same on tensors",
          "loss = mean(gelu(x @ W + bias)). Each gradient has its value's shape:\n"
          "dW = x^T @ dy (3, 2), dbias = column sums of dy (2), dx = dy @ W^T (4, 3).");
  Rng rng(0);
  Var x(rng.normal({4, 3}, 0, 1, DType::F64), true);
  Var w(rng.normal({3, 2}, 0, 1, DType::F64), true);
  Var bias(Tensor::zeros({2}, DType::F64), true);
  Var loss = ag::mean_all(ag::gelu(ag::linear(x, w, bias)));
  loss.backward();
  std::cout << "loss = " << loss.value().item() << "\n";
  std::cout << "dW = " << w.grad().to_string() << "\n";
  std::cout << "dbias = " << bias.grad().to_string() << "\n";
  std::cout << "dx shape " << shape_str(x.grad().shape()) << "\n";
  claim(w.grad().shape() == Shape{3, 2} && bias.grad().shape() == Shape{2} &&
            x.grad().shape() == Shape{4, 3},
        "each gradient has its value's shape: dW (3, 2), dbias (2), dx (4, 3)");
  // The linear layer's three formulas, with dy = dloss/d(x @ W + bias) from a
  // second graph that starts at the layer's output.
  Var y(ag::linear(x, w, bias).value(), true);
  ag::mean_all(ag::gelu(y)).backward();
  const Tensor& dy = y.grad();  // (4, 2)
  const double err_w = max_abs_diff(w.grad(), matmul(x.value(), dy, true, false));
  const double err_b = max_abs_diff(bias.grad(), sum(dy, 0));
  const double err_x = max_abs_diff(x.grad(), matmul(dy, w.value(), false, true));
  std::printf("max |difference| to x^T @ dy, sum(dy, 0), dy @ W^T: %.1e %.1e %.1e\n", err_w, err_b,
              err_x);
  // float64, a handful of terms per entry: only the last bits can differ.
  claim(err_w < 1e-12 && err_b < 1e-12 && err_x < 1e-12,
        "dW = x^T @ dy, dbias = column sums of dy, dx = dy @ W^T");
  {
    NoGradGuard no_grad;  // inference: nothing is recorded
    Var y_inf = ag::linear(x, w, bias);
    std::cout << "under NoGradGuard the result requires_grad = " << y_inf.requires_grad() << "\n";
    claim(!y_inf.requires_grad(), "NoGradGuard records nothing: requires_grad is false");
  }
}

// Prints the verdict and the per-input errors; returns whether gradcheck passed.
bool check(const std::string& name, const GradcheckFn& f, const std::vector<Tensor>& inputs) {
  const GradcheckReport r = gradcheck(f, inputs);
  std::cout << name << ": " << (r.passed ? "passed" : "FAILED") << "\n" << r.summary();
  return r.passed;
}

void gradchecks() {
  section("3. gradcheck: finite differences as referee",
          "(f(x + eps) - f(x - eps)) / (2 eps) approximates each derivative with\n"
          "error ~eps^2. In float64 with eps = 1e-6 a correct backward agrees to\n"
          "~1e-9; a wrong one is off by O(1).");
  Rng rng(1);
  auto randn = [&rng](const Shape& s) { return rng.normal(s, 0, 1, DType::F64); };
  const bool ln = check(
      "layer_norm", [](const std::vector<Var>& in) { return ag::layer_norm(in[0], in[1], in[2]); },
      {randn({3, 5}), randn({5}), randn({5})});
  const bool attn =
      check("causal_self_attention (B=1, T=4, C=6, 2 heads)",
            [](const std::vector<Var>& in) { return ag::causal_self_attention(in[0], 2); },
            {randn({1, 4, 18})});
  const std::vector<int32_t> targets = {2, 0, -1};
  const bool ce =
      check("cross_entropy (one ignored target)",
            [&targets](const std::vector<Var>& in) { return ag::cross_entropy(in[0], targets); },
            {randn({3, 4})});
  // A deliberately wrong backward: d(x^2)/dx claimed to be x instead of 2x.
  const bool buggy = check(
      "a buggy square (expected to fail)",
      [](const std::vector<Var>& in) {
        return make_op_result(cpurich::mul(in[0].value(), in[0].value()), {in[0]}, "bad_square",
                              [x = in[0].value()](Node& self) {
                                accumulate_grad_owned(self.parents[0], cpurich::mul(self.grad, x));
                              });
      },
      {randn({3})});
  claim(ln && attn && ce, "the library's layer_norm, attention and cross_entropy pass gradcheck");
  // The point of a referee: a backward that is off by a factor of 2 must not pass.
  claim(!buggy, "gradcheck catches the buggy square");
}

}  // namespace

int main() {
  scalars_by_hand();
  tensors();
  gradchecks();
  std::cout << "\n"
            << (failed_claims == 0 ? "every claim above checked: yes" : "some claims FAILED")
            << "\n";
  std::cout << "\nNext: the nn library stacks these ops into a GPT (nn/gpt.h).\n";
  return failed_claims == 0 ? 0 : 1;
}
