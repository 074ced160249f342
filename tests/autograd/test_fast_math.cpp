// exp_f32 (the vectorisable exp used by the float32 kernels) against the
// double-precision std::exp. Bound: float32 rounds with relative error up to
// 6e-8 (half an ulp); the polynomial and range reduction add about one more
// ulp, so 2e-7 (about 3 ulps) is the accuracy fast_math.h promises.
#include <catch2/catch.hpp>

#include <cmath>

#include "autograd/fast_math.h"

using cpurich::ag::detail::exp_f32;

TEST_CASE("exp_f32 is within 2e-7 relative of exp over its range", "[fast_math]") {
  double worst = 0;
  for (double x = -87.0; x <= 88.0; x += 0.0037) {
    const float xf = static_cast<float>(x);
    const double ref = std::exp(static_cast<double>(xf));
    worst = std::max(worst, std::fabs(static_cast<double>(exp_f32(xf)) - ref) / ref);
  }
  INFO("max relative error " << worst);
  CHECK(worst < 2e-7);
  CHECK(exp_f32(0.0f) == 1.0f);
}

TEST_CASE("exp_f32 clamps instead of overflowing", "[fast_math]") {
  const float big = exp_f32(1000.0f), tiny = exp_f32(-1000.0f);
  CHECK(std::isfinite(big));
  CHECK(big > 1e38f);
  CHECK(tiny >= 0.0f);
  CHECK(tiny < 1e-37f);
}
