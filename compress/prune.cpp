// prune.cpp: magnitude, Wanda and SparseGPT masks (see prune.h).
#include "compress/prune.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "compress/hessian.h"

namespace cpurich::compress {

PruneMethod parse_prune_method(std::string_view name) {
  if (name == "magnitude") return PruneMethod::Magnitude;
  if (name == "wanda") return PruneMethod::Wanda;
  if (name == "sparsegpt") return PruneMethod::SparseGPT;
  throw std::invalid_argument("unknown prune method \"" + std::string(name) +
                              "\" (magnitude, wanda or sparsegpt)");
}

void parse_prune_pattern(std::string_view pattern, PruneOptions& o) {
  const auto colon = pattern.find(':');
  const auto bad = [&] {
    return std::invalid_argument("bad sparsity pattern \"" + std::string(pattern) +
                                 "\" (want N:M with 0 < N < M, e.g. 2:4)");
  };
  if (colon == std::string_view::npos) throw bad();
  try {
    size_t used_n = 0, used_m = 0;
    const std::string ns(pattern.substr(0, colon)), ms(pattern.substr(colon + 1));
    const long long n = std::stoll(ns, &used_n), m = std::stoll(ms, &used_m);
    if (used_n != ns.size() || used_m != ms.size() || n <= 0 || m <= n || m > 1024) throw bad();
    o.n = n;
    o.m = m;
  } catch (const std::logic_error&) {
    throw bad();
  }
}

int64_t zeros_per_row(int64_t in, double sparsity) {
  return static_cast<int64_t>(std::llround(sparsity * static_cast<double>(in)));
}

namespace {

/// Indices of the k smallest scores among idx (ties: the lower index goes first).
void zero_smallest(std::vector<int64_t>& idx, const std::vector<double>& score, int64_t k,
                   std::vector<uint8_t>& prune) {
  std::stable_sort(idx.begin(), idx.end(),
                   [&](int64_t a, int64_t b) { return score[a] < score[b]; });
  for (int64_t t = 0; t < k; ++t) prune[idx[t]] = 1;
}

/// Per row: mark the columns to zero from score (in,), unstructured or n:m.
void select_row(const std::vector<double>& score, int64_t in, const PruneOptions& o,
                std::vector<uint8_t>& prune) {
  std::fill(prune.begin(), prune.end(), 0);
  std::vector<int64_t> idx;
  if (o.m > 0) {
    for (int64_t g = 0; g < in; g += o.m) {
      idx.resize(static_cast<size_t>(o.m));
      std::iota(idx.begin(), idx.end(), g);
      zero_smallest(idx, score, o.n, prune);
    }
    return;
  }
  idx.resize(static_cast<size_t>(in));
  std::iota(idx.begin(), idx.end(), 0);
  zero_smallest(idx, score, zeros_per_row(in, o.sparsity), prune);
}

void check(int64_t out, int64_t in, std::span<const double> w, const PruneOptions& o) {
  if (static_cast<int64_t>(w.size()) != out * in)
    throw std::invalid_argument("prune: W size is not out * in");
  if (o.m > 0 && (o.n <= 0 || o.n >= o.m || in % o.m != 0))
    throw std::invalid_argument("prune: pattern " + std::to_string(o.n) + ":" +
                                std::to_string(o.m) + " needs 0 < N < M and in (" +
                                std::to_string(in) + ") a multiple of M");
  if (o.m == 0 && !(o.sparsity >= 0.0 && o.sparsity < 1.0))
    throw std::invalid_argument("prune: sparsity must be in [0, 1)");
}

//! [sparsegpt]
void sparsegpt(std::span<double> w, int64_t out, int64_t in, const PruneOptions& o,
               std::span<const double> h) {
  if (o.m > 0 && o.block_size % o.m != 0)
    throw std::invalid_argument("sparsegpt: block size must be a multiple of M");
  const std::vector<uint8_t> dead = dead_columns(h, in);
  std::vector<double> wt(static_cast<size_t>(in * out));  // (in, out) = W^T
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) wt[c * out + r] = dead[c] ? 0.0 : w[r * in + c];
  const std::vector<double> u = inverse_cholesky_upper(h, in, o.damp);
  std::vector<uint8_t> mask(static_cast<size_t>(in * out), 0);  // (in, out): 1 = zero it
  std::vector<double> score(static_cast<size_t>(in));
  std::vector<uint8_t> prune(static_cast<size_t>(in));
  std::vector<int64_t> idx;
  // OBS score of zeroing W[r,c] given the columns before it: W[r,c]^2 / U[c,c]^2.
  const auto score_of = [&](std::span<const double> cur, int64_t c, int64_t r) {
    const double d = u[c * in + c];
    return cur[c * out + r] * cur[c * out + r] / (d * d);
  };
  const BlockStart pick = [&](int64_t i1, int64_t i2, std::span<const double> cur) {
    if (o.m > 0) return;  // n:m masks are picked column group by group below
    // Each row zeroes as many of this block's columns as keeps its running
    // count at round(s * i2): exactly round(s * in) per row in the end.
    const int64_t k = zeros_per_row(i2, o.sparsity) - zeros_per_row(i1, o.sparsity);
    for (int64_t r = 0; r < out; ++r) {
      idx.resize(static_cast<size_t>(i2 - i1));
      std::iota(idx.begin(), idx.end(), i1);
      for (int64_t c = i1; c < i2; ++c) score[c] = score_of(cur, c, r);
      std::fill(prune.begin() + i1, prune.begin() + i2, 0);
      zero_smallest(idx, score, k, prune);
      for (int64_t c = i1; c < i2; ++c) mask[c * out + r] = prune[c];
    }
  };
  const ColumnRule rule = [&](int64_t i, std::span<double> cur) {
    if (o.m > 0 && i % o.m == 0) {
      for (int64_t r = 0; r < out; ++r) {
        idx.resize(static_cast<size_t>(o.m));
        std::iota(idx.begin(), idx.end(), i);
        for (int64_t c = i; c < i + o.m; ++c) score[c] = score_of(cur, c, r);
        std::fill(prune.begin() + i, prune.begin() + i + o.m, 0);
        zero_smallest(idx, score, o.n, prune);
        for (int64_t c = i; c < i + o.m; ++c) mask[c * out + r] = prune[c];
      }
    }
    for (int64_t r = 0; r < out; ++r)
      if (mask[i * out + r]) cur[i * out + r] = 0.0;
  };
  obs_sweep(wt, in, out, u, o.block_size, pick, rule);
  for (int64_t r = 0; r < out; ++r)
    for (int64_t c = 0; c < in; ++c) w[r * in + c] = wt[c * out + r];
}
//! [sparsegpt]

}  // namespace

void prune_matrix(std::span<double> w, int64_t out, int64_t in, const PruneOptions& o,
                  std::span<const double> col_norms, std::span<const double> h) {
  check(out, in, w, o);
  if (o.method == PruneMethod::SparseGPT) {
    if (static_cast<int64_t>(h.size()) != in * in)
      throw std::invalid_argument("sparsegpt needs the calibration Hessian (in, in)");
    sparsegpt(w, out, in, o, h);
    return;
  }
  if (o.method == PruneMethod::Wanda && static_cast<int64_t>(col_norms.size()) != in)
    throw std::invalid_argument("wanda needs the calibration input norms (in,)");
  std::vector<double> score(static_cast<size_t>(in));
  std::vector<uint8_t> prune(static_cast<size_t>(in));
  //! [wanda]
  for (int64_t r = 0; r < out; ++r) {
    double* row = w.data() + r * in;
    for (int64_t c = 0; c < in; ++c)
      score[c] = std::fabs(row[c]) * (o.method == PruneMethod::Wanda ? col_norms[c] : 1.0);
    select_row(score, in, o, prune);
    for (int64_t c = 0; c < in; ++c)
      if (prune[c]) row[c] = 0.0;
  }
  //! [wanda]
}

}  // namespace cpurich::compress
