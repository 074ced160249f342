// test_prune.cpp: exact sparsity and n:m patterns for every method, and the
// expected ranking of their output errors on a layer with outlier inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "compress/prune.h"
#include "compress_test_util.h"

using namespace cpurich;
using namespace cpurich::compress;
using cpurich::test::correlated_inputs;
using cpurich::test::hessian_of;
using cpurich::test::output_error;
using cpurich::test::random_matrix;

namespace {

struct Layer {
  int64_t out = 16, in = 128, n = 400;
  std::vector<double> w, x, h, norms;
};

Layer make_layer() {
  Layer l;
  l.w = random_matrix(l.out, l.in, 71, 0.05);
  // A few input columns far larger than the rest (as LLM activations have).
  l.x = correlated_inputs(l.n, l.in, 72, {3, 40, 41, 99}, 10.0);
  l.h = hessian_of(l.x, l.n, l.in);
  l.norms.assign(static_cast<size_t>(l.in), 0.0);
  for (int64_t s = 0; s < l.n; ++s)
    for (int64_t c = 0; c < l.in; ++c) l.norms[c] += l.x[s * l.in + c] * l.x[s * l.in + c];
  for (double& v : l.norms) v = std::sqrt(v);
  return l;
}

std::vector<double> pruned(const Layer& l, PruneOptions o) {
  std::vector<double> w = l.w;
  prune_matrix(w, l.out, l.in, o, l.norms, l.h);
  return w;
}

}  // namespace

TEST_CASE("every method zeroes exactly round(s * in) per row, or n of every m") {
  const Layer l = make_layer();
  for (PruneMethod m : {PruneMethod::Magnitude, PruneMethod::Wanda, PruneMethod::SparseGPT}) {
    for (double s : {0.5, 0.3}) {
      const auto w = pruned(l, {.method = m, .sparsity = s, .block_size = 32});
      for (int64_t r = 0; r < l.out; ++r) {
        int64_t zeros = 0;
        for (int64_t c = 0; c < l.in; ++c) zeros += w[r * l.in + c] == 0.0 ? 1 : 0;
        CHECK(zeros == zeros_per_row(l.in, s));
      }
    }
    const auto w = pruned(l, {.method = m, .n = 2, .m = 4});
    for (int64_t r = 0; r < l.out; ++r)
      for (int64_t g = 0; g < l.in; g += 4) {
        int64_t zeros = 0;
        for (int64_t c = g; c < g + 4; ++c) zeros += w[r * l.in + c] == 0.0 ? 1 : 0;
        CHECK(zeros == 2);
      }
  }
  CHECK(zeros_per_row(128, 0.3) == 38);
}

TEST_CASE("output error: SparseGPT <= Wanda <= magnitude with outlier input columns") {
  const Layer l = make_layer();
  for (int64_t nm : {0, 4}) {
    PruneOptions o{.sparsity = 0.5, .n = nm ? 2 : 0, .m = nm};
    o.method = PruneMethod::Magnitude;
    const double mag = output_error(l.w, pruned(l, o), l.out, l.in, l.x, l.n);
    o.method = PruneMethod::Wanda;
    const double wanda = output_error(l.w, pruned(l, o), l.out, l.in, l.x, l.n);
    o.method = PruneMethod::SparseGPT;
    const double sgpt = output_error(l.w, pruned(l, o), l.out, l.in, l.x, l.n);
    INFO("pattern " << nm << ": magnitude " << mag << " wanda " << wanda << " sparsegpt " << sgpt);
    CHECK(sgpt <= wanda);
    CHECK(wanda <= mag);
  }
}

TEST_CASE("prune: bad methods, patterns and options are one-line errors") {
  CHECK(parse_prune_method("wanda") == PruneMethod::Wanda);
  CHECK_THROWS_WITH(parse_prune_method("random"), Catch::Contains("magnitude, wanda or sparsegpt"));
  PruneOptions o;
  parse_prune_pattern("2:4", o);
  CHECK((o.n == 2 && o.m == 4));
  for (const char* bad : {"2", "4:2", "2:2", "0:4", "a:4", "2:4x", ":"})
    CHECK_THROWS_WITH(parse_prune_pattern(bad, o), Catch::Contains("want N:M"));
  const Layer l = make_layer();
  std::vector<double> w = l.w;
  CHECK_THROWS_AS(prune_matrix(w, l.out, l.in, {.method = PruneMethod::Wanda}, {}, {}),
                  std::invalid_argument);
  CHECK_THROWS_AS(prune_matrix(w, l.out, l.in, {.method = PruneMethod::SparseGPT}, {}, {}),
                  std::invalid_argument);
  CHECK_THROWS_AS(prune_matrix(w, l.out, l.in, {.sparsity = 1.0}, {}, {}), std::invalid_argument);
  CHECK_THROWS_AS(prune_matrix(w, l.out, l.in, {.n = 2, .m = 3}, {}, {}), std::invalid_argument);
}
