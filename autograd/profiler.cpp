// profiler.cpp: per-op-class wall-time totals (see profiler.h).
#include "autograd/profiler.h"

#include <chrono>
#include <cstdio>

namespace cpurich {
namespace {

bool g_enabled = false;
ProfilerTotals g_totals;

int64_t now_ns() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace

std::string op_class_name(OpClass c) {
  switch (c) {
    case OpClass::Matmul:
      return "matmul";
    case OpClass::Attention:
      return "attention";
    case OpClass::Norms:
      return "norms";
    case OpClass::Other:
      return "other";
  }
  return "other";
}

void profiler_enable(bool on) {
  g_enabled = on;
}
bool profiler_enabled() {
  return g_enabled;
}
void profiler_reset() {
  g_totals = ProfilerTotals{};
}
ProfilerTotals profiler_totals() {
  return g_totals;
}

std::string profiler_report() {
  std::string out = "op class    forward ms  (calls)   backward ms  (calls)\n";
  double fwd = 0, bwd = 0;
  char line[128];
  for (int i = 0; i < kNumOpClasses; ++i) {
    std::snprintf(line, sizeof line, "%-10s %11.2f %8lld %13.2f %8lld\n",
                  op_class_name(static_cast<OpClass>(i)).c_str(), g_totals.forward_seconds[i] * 1e3,
                  static_cast<long long>(g_totals.forward_calls[i]),
                  g_totals.backward_seconds[i] * 1e3,
                  static_cast<long long>(g_totals.backward_calls[i]));
    out += line;
    fwd += g_totals.forward_seconds[i];
    bwd += g_totals.backward_seconds[i];
  }
  std::snprintf(line, sizeof line, "%-10s %11.2f %8s %13.2f\n", "total", fwd * 1e3, "", bwd * 1e3);
  return out + line;
}

OpClass op_class_of(const std::string& op) {
  if (op == "matmul" || op == "linear") return OpClass::Matmul;
  if (op == "attention" || op == "sdpa" || op == "softmax") return OpClass::Attention;
  if (op == "layer_norm" || op == "rms_norm") return OpClass::Norms;
  return OpClass::Other;
}

ProfileScope::ProfileScope(OpClass c, bool backward)
    : class_(c), backward_(backward), active_(g_enabled) {
  if (active_) start_ns_ = now_ns();
}

ProfileScope::~ProfileScope() {
  if (!active_) return;
  const double seconds = static_cast<double>(now_ns() - start_ns_) * 1e-9;
  const int i = static_cast<int>(class_);
  if (backward_) {
    g_totals.backward_seconds[i] += seconds;
    g_totals.backward_calls[i] += 1;
  } else {
    g_totals.forward_seconds[i] += seconds;
    g_totals.forward_calls[i] += 1;
  }
}

}  // namespace cpurich
