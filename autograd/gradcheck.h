// gradcheck.h: is a backward pass right? Compare it with finite differences.
//
// What it teaches: for any input element x_j, the central difference
//     (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)
// approximates column j of the Jacobian with error O(eps^2). The backward pass
// gives rows of the same Jacobian: seeding output element i with 1 yields
// dy_i/dx. In float64 with eps = 1e-6 both agree to ~1e-8 when the backward
// is right, so a mismatch above atol + rtol * |numeric| (PyTorch's defaults:
// atol 1e-5, rtol 1e-3) means a bug, not rounding.
//
// Pipeline position: the test suite checks every op with it; the nn helper
// checks a whole toy GPT.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace cpurich {

/// Tolerances of gradcheck (PyTorch's defaults).
struct GradcheckOptions {
  double eps = 1e-6;   ///< finite-difference step
  double atol = 1e-5;  ///< absolute tolerance
  double rtol = 1e-3;  ///< relative tolerance, times |numeric|
};

/// Worst disagreement for one input.
struct GradcheckInputReport {
  double max_abs_error = 0;  ///< max |analytic - numeric| over the Jacobian entries
  double max_rel_error =
      0;               ///< max of that divided by |numeric|, over entries with |numeric| > atol
  bool passed = true;  ///< every entry within atol + rtol * |numeric|
};

/// Result of gradcheck: one entry per input plus the overall verdict.
struct GradcheckReport {
  std::vector<GradcheckInputReport> inputs;  ///< in the order of the inputs
  bool passed = true;                        ///< all inputs passed
  /// One line per input: "input 0: max abs 1.2e-10, max rel 3.4e-09 ok".
  std::string summary() const;
};

/// The function under test: takes one leaf Var per input, returns any Var.
using GradcheckFn = std::function<Var(const std::vector<Var>&)>;

/// Checks the full Jacobian of f at `inputs` (converted to contiguous f64
/// copies): one backward per output element vs two forward calls per input
/// element. Keep the tensors tiny. To test non-contiguous inputs, make the
/// view inside f (e.g. ag::transpose of an input).
GradcheckReport gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // namespace cpurich
