// prune.h: setting weights to zero — magnitude, Wanda, SparseGPT.
//
// What it teaches: which weights of W (out, in) can go? All three methods
// compare weights within each output row and zero the lowest-scoring ones;
// they differ in the score and in what happens to the survivors.
//   magnitude   |W_rc|                        survivors unchanged
//   Wanda       |W_rc| * ||X_c||              survivors unchanged (Sun et al., 2023)
//   SparseGPT   W_rc^2 / U[c,c]^2             survivors updated by OBS (Frantar & Alistarh, 2023)
// Wanda's ||X_c|| makes a small weight on a large input count: the output
// error of zeroing W_rc is W_rc x_c. SparseGPT's score is the OBS cost of
// zeroing the weight once the columns before it are fixed, and pruning it
// pushes its error onto the columns after it (compress/hessian.h), choosing
// the mask one block of 128 columns at a time from the updated weights.
//
// Patterns: unstructured keeps the top (1 - s) of each row (exactly
// round(s * in) zeros per row); n:m ("2:4") keeps the best m - n of every m
// consecutive input weights of a row, the layout sparse tensor cores run.
//
// Pipeline position: calibration -> [prune] -> a smaller-in-effect model.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace cpurich::compress {

enum class PruneMethod { Magnitude, Wanda, SparseGPT };
/// "magnitude", "wanda" or "sparsegpt"; throws std::invalid_argument otherwise.
PruneMethod parse_prune_method(std::string_view name);

struct PruneOptions {
  PruneMethod method = PruneMethod::Magnitude;
  double sparsity = 0.5;  ///< unstructured: fraction zeroed per row, in [0, 1)
  int64_t n = 0;          ///< n:m pattern: zero n of every m (0: unstructured)
  int64_t m = 0;
  double damp = 0.01;        ///< SparseGPT's Hessian damping
  int64_t block_size = 128;  ///< SparseGPT's mask / lazy-batch block
};
/// "2:4" -> n = 2, m = 4 into options; throws std::invalid_argument (one line)
/// unless it reads N:M with 0 < N < M.
void parse_prune_pattern(std::string_view pattern, PruneOptions& options);

/// W (out, in) row-major pruned in place. `col_norms` (in,) = ||X_c|| is
/// read by Wanda, `h` (in, in) = 2 X^T X / N by SparseGPT (either may be
/// empty for the methods that do not use it). Throws std::invalid_argument
/// on bad options, a missing statistic or in not a multiple of m.
void prune_matrix(std::span<double> w, int64_t out, int64_t in, const PruneOptions& options,
                  std::span<const double> col_norms, std::span<const double> h);

/// Zeros per row of an unstructured prune of `in` columns at `sparsity`.
int64_t zeros_per_row(int64_t in, double sparsity);

}  // namespace cpurich::compress
