// load_options.cpp: the finiteness check of loaded weights (see load_options.h).
#include "nn/load_options.h"

#include <atomic>
#include <cmath>
#include <stdexcept>

namespace cpurich {

namespace {
std::atomic<bool> g_allow_nonfinite{false};
}  // namespace

bool nonfinite_allowed_by_default() {
  return g_allow_nonfinite.load();
}

void set_nonfinite_allowed_by_default(bool allow) {
  g_allow_nonfinite.store(allow);
}

void require_finite(const Tensor& t, const std::string& name, const std::string& path,
                    const LoadOptions& options) {
  if (options.allow_nonfinite) return;
  const Tensor f = t.dtype() == DType::F32 ? t.contiguous() : t.to(DType::F32).contiguous();
  const float* p = f.data_f32();
  for (int64_t i = 0; i < f.numel(); ++i) {
    if (std::isfinite(p[i])) continue;
    const char* what = std::isnan(p[i]) ? "nan" : p[i] > 0 ? "inf" : "-inf";
    throw std::runtime_error(path + ": tensor '" + name + "' holds " + what + " at element " +
                             std::to_string(i) + " (refused; --allow-nonfinite loads it anyway)");
  }
}

void require_finite(const std::map<std::string, Tensor>& tensors, const std::string& path,
                    const LoadOptions& options) {
  for (const auto& [name, t] : tensors) require_finite(t, name, path, options);
}

}  // namespace cpurich
