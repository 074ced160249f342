// load_options.h: what the weight loaders accept, and the check that every
// weight they load is a finite number.
//
// What it teaches: a NaN or an Inf in a weight file (a run that diverged
// before it was saved, a flipped exponent bit) does not fail where it is
// loaded; it poisons every activation it touches and shows up much later as
// NaN losses or garbage text. So the loaders (load_model, load_lora_adapter,
// the checkpoint readers) refuse it at once, naming the file and the tensor.
// Looking into a broken run needs the opposite, so the refusal can be
// switched off: per call (LoadOptions::allow_nonfinite) or for the whole
// process (the CLI's --allow-nonfinite sets the default).
//
// Pipeline position: [files] -> loaders (nn/, train/) -> model.
#pragma once

#include <map>
#include <string>

#include "tensor/tensor.h"

namespace cpurich {

/// The default of LoadOptions::allow_nonfinite for this process (false until set).
bool nonfinite_allowed_by_default();
/// Sets that default (the CLI's --allow-nonfinite; tests).
void set_nonfinite_allowed_by_default(bool allow);

/// Options shared by the weight loaders.
struct LoadOptions {
  /// Load tensors holding NaN or +-Inf instead of refusing them (forensics).
  bool allow_nonfinite = nonfinite_allowed_by_default();
};

/// Throws std::runtime_error "<path>: tensor '<name>' holds <nan|inf|-inf> at
/// element <i> (refused; --allow-nonfinite loads it anyway)" for the first
/// non-finite element of `t` (flat index), unless options allow it.
void require_finite(const Tensor& t, const std::string& name, const std::string& path,
                    const LoadOptions& options);
/// require_finite on every tensor, in name order.
void require_finite(const std::map<std::string, Tensor>& tensors, const std::string& path,
                    const LoadOptions& options);

}  // namespace cpurich
