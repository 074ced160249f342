// test_schedule.cpp: the warm-up + cosine learning-rate schedule at its landmarks.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>

#include "train/schedule.h"

using namespace cpurich;

TEST_CASE("lr schedule: linear warm-up, cosine decay, floor", "[schedule]") {
  const LrSchedule s{.peak = 1e-3, .floor = 1e-4, .warmup = 100, .decay_iters = 2000};
  // Warm-up: (it+1)/(warmup+1) of the peak; exact in double up to rounding.
  CHECK(learning_rate_at(s, 0) == Approx(1e-3 / 101).epsilon(1e-12));
  CHECK(learning_rate_at(s, 49) == Approx(1e-3 * 50 / 101).epsilon(1e-12));
  CHECK(learning_rate_at(s, 99) == Approx(1e-3 * 100 / 101).epsilon(1e-12));
  // Peak at the end of warm-up: cos(0) = 1.
  CHECK(learning_rate_at(s, 100) == Approx(1e-3).epsilon(1e-12));
  // Half way through the decay, cos(pi/2) = 0: the mean of peak and floor.
  CHECK(learning_rate_at(s, 1050) == Approx(5.5e-4).epsilon(1e-9));
  // A quarter of the way: floor + 0.5*(1+cos(pi/4))*(peak-floor).
  const double quarter = 1e-4 + 0.5 * (1 + std::cos(std::numbers::pi / 4)) * 9e-4;
  CHECK(learning_rate_at(s, 575) == Approx(quarter).epsilon(1e-9));
  // End of the decay and beyond: the floor.
  CHECK(learning_rate_at(s, 2000) == Approx(1e-4).epsilon(1e-12));
  CHECK(learning_rate_at(s, 5000) == 1e-4);
}

TEST_CASE("lr schedule is monotone: up during warm-up, down afterwards", "[schedule]") {
  const LrSchedule s{.peak = 6e-4, .floor = 6e-5, .warmup = 10, .decay_iters = 200};
  for (int64_t it = 1; it < 10; ++it) CHECK(learning_rate_at(s, it) > learning_rate_at(s, it - 1));
  for (int64_t it = 11; it <= 200; ++it)
    CHECK(learning_rate_at(s, it) < learning_rate_at(s, it - 1));
  for (int64_t it = 0; it <= 300; ++it) {
    CHECK(learning_rate_at(s, it) <= 6e-4 * (1 + 1e-12));
    CHECK(learning_rate_at(s, it) > 0.0);
  }
}

TEST_CASE("lr schedule without warm-up starts at the peak", "[schedule]") {
  const LrSchedule s{.peak = 1e-3, .floor = 0.0, .warmup = 0, .decay_iters = 10};
  CHECK(learning_rate_at(s, 0) == Approx(1e-3).epsilon(1e-12));
  CHECK(learning_rate_at(s, 10) == Approx(0.0).margin(1e-18));
}
