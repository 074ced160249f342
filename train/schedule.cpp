// schedule.cpp: warm-up + cosine learning rate (see schedule.h for the math).
#include "train/schedule.h"

#include <cmath>
#include <numbers>

namespace cpurich {

//! [lr_schedule]
double learning_rate_at(const LrSchedule& s, int64_t it) {
  if (it < s.warmup) {
    // (it + 1) so that step 0 already moves a little; never exceeds the peak.
    return s.peak * static_cast<double>(it + 1) / static_cast<double>(s.warmup + 1);
  }
  if (it > s.decay_iters || s.decay_iters <= s.warmup) return s.floor;
  const double r =
      static_cast<double>(it - s.warmup) / static_cast<double>(s.decay_iters - s.warmup);
  const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * r));  // 1 -> 0
  return s.floor + coeff * (s.peak - s.floor);
}
//! [lr_schedule]

}  // namespace cpurich
