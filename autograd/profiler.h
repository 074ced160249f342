// profiler.h: where does a training step spend its time?
//
// What it teaches: before optimising, measure. Every autograd op belongs to
// one of four classes (matmul, attention, norms, other); when the profiler is
// on, each op's forward and each node's backward add their wall time to the
// class total. When it is off (the default) an op pays one branch on a bool.
//
// Pipeline position: tensors -> [autograd] -> nn -> training; the nn bench
// prints profiler_report() after a few steps.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace cpurich {

/// The four buckets the profiler reports.
enum class OpClass { Matmul = 0, Attention = 1, Norms = 2, Other = 3 };
/// Number of OpClass values.
inline constexpr int kNumOpClasses = 4;

/// "matmul", "attention", "norms" or "other".
std::string op_class_name(OpClass c);

/// Accumulated totals since the last profiler_reset().
struct ProfilerTotals {
  std::array<double, kNumOpClasses> forward_seconds{};   ///< indexed by OpClass
  std::array<double, kNumOpClasses> backward_seconds{};  ///< indexed by OpClass
  std::array<int64_t, kNumOpClasses> forward_calls{};    ///< ops recorded
  std::array<int64_t, kNumOpClasses> backward_calls{};   ///< nodes back-propagated
};

/// Turns timing on or off (off by default). Not thread-safe: call between steps.
void profiler_enable(bool on);
/// Is timing on?
bool profiler_enabled();
/// Zeroes every total.
void profiler_reset();
/// A copy of the current totals.
ProfilerTotals profiler_totals();
/// A small table: one line per class with forward/backward milliseconds and calls.
std::string profiler_report();

/// Which class an op name (Node::op, e.g. "linear", "layer_norm") belongs to.
OpClass op_class_of(const std::string& op);

/// RAII timer: adds the scope's wall time to one class when the profiler is on.
class ProfileScope {
 public:
  /// Starts timing `c` (forward when !backward) if the profiler is enabled.
  ProfileScope(OpClass c, bool backward);
  ~ProfileScope();
  ProfileScope(const ProfileScope&) = delete;
  ProfileScope& operator=(const ProfileScope&) = delete;

 private:
  OpClass class_;
  bool backward_;
  bool active_;
  int64_t start_ns_ = 0;
};

}  // namespace cpurich
