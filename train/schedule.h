// schedule.h: the learning-rate schedule, linear warm-up then cosine decay.
//
// What it teaches: early in training Adam's second-moment estimates are poor
// and a full-size step can blow the model up, so the rate ramps up linearly
// for `warmup` steps. Afterwards it follows half a cosine from the peak down
// to a floor, so the last steps are small and the loss settles:
//
//   it <  warmup:          lr(it) = peak * (it + 1) / (warmup + 1)
//   warmup <= it <= end:   r = (it - warmup) / (end - warmup)
//                          lr(it) = floor + 0.5 * (1 + cos(pi * r)) * (peak - floor)
//   it >  end:             lr(it) = floor
//
// This is nanoGPT's get_lr, so our runs can be compared step for step.
#pragma once

#include <cstdint>

namespace cpurich {

/// Parameters of the warm-up + cosine schedule.
struct LrSchedule {
  double peak = 1e-3;          ///< reached at the end of warm-up
  double floor = 1e-4;         ///< min_lr, reached at decay_iters
  int64_t warmup = 100;        ///< warm-up steps
  int64_t decay_iters = 2000;  ///< step at which the cosine reaches the floor
};

/// The learning rate for optimizer step `it` (0-based).
double learning_rate_at(const LrSchedule& s, int64_t it);

}  // namespace cpurich
