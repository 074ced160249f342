// The profiler counts forward ops and backward nodes per class only when on.
#include <catch2/catch.hpp>

#include "autograd/ops.h"
#include "autograd/profiler.h"

using namespace cpurich;

TEST_CASE("profiler counts per op class only while enabled", "[profiler]") {
  Var x(Tensor::ones({2, 3}, DType::F64), true), w(Tensor::ones({3, 4}, DType::F64), true);
  Var g(Tensor::ones({4}, DType::F64), true), b(Tensor::zeros({4}, DType::F64), true);
  profiler_reset();
  profiler_enable(false);
  ag::sum_all(ag::layer_norm(ag::linear(x, w, Var()), g, b)).backward();
  ProfilerTotals t = profiler_totals();
  for (int i = 0; i < kNumOpClasses; ++i) CHECK(t.forward_calls[static_cast<size_t>(i)] == 0);

  profiler_enable(true);
  ag::sum_all(ag::layer_norm(ag::linear(x, w, Var()), g, b)).backward();
  profiler_enable(false);
  t = profiler_totals();
  const auto m = static_cast<size_t>(OpClass::Matmul), n = static_cast<size_t>(OpClass::Norms),
             o = static_cast<size_t>(OpClass::Other);
  CHECK(t.forward_calls[m] == 1);
  CHECK(t.forward_calls[n] == 1);
  CHECK(t.forward_calls[o] == 1);  // sum_all
  CHECK(t.backward_calls[m] == 1);
  CHECK(t.backward_calls[n] == 1);
  CHECK(t.backward_calls[o] == 1);
  CHECK(t.forward_seconds[m] >= 0.0);
  CHECK(profiler_report().find("norms") != std::string::npos);
  profiler_reset();
  CHECK(profiler_totals().forward_calls[m] == 0);
}

TEST_CASE("op names map to profiler classes", "[profiler]") {
  CHECK(op_class_of("linear") == OpClass::Matmul);
  CHECK(op_class_of("attention") == OpClass::Attention);
  CHECK(op_class_of("rms_norm") == OpClass::Norms);
  CHECK(op_class_of("gelu") == OpClass::Other);
  CHECK(op_class_name(OpClass::Attention) == "attention");
}
