// The float32 kernels (the training hot path, with their fast paths) against
// the same ops run in float64, forward and backward; and the determinism
// promise: bit-identical results for 1 and 2 threads.
//
// Tolerance: float32 has a relative rounding unit of 6e-8; each output here
// is a reduction of at most a few hundred O(1) terms, whose accumulated error
// stays below ~1e-5 relative. rtol 1e-4 / atol 1e-5 leaves a margin of ~10x
// but still fails for any indexing or formula bug (errors of O(1)).
#include <catch2/catch.hpp>
#include <functional>

#include "autograd/ops.h"
#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;
using V = std::vector<Var>;
using Fn = std::function<Var(const V&)>;

namespace {

Tensor randn(const Shape& shape, uint64_t seed) {
  return Rng(seed).normal(shape, 0, 1, DType::F64);
}

struct Run {
  Tensor out;
  std::vector<Tensor> grads;
};

// Runs f on `inputs` converted to dtype, back-propagates `seed`, returns f64 copies.
Run run(const Fn& f, const std::vector<Tensor>& inputs, const Tensor& seed, DType dtype) {
  V leaves;
  for (const Tensor& t : inputs) leaves.emplace_back(t.to(dtype).clone(), true);
  Var out = f(leaves);
  Run r{out.value().to(DType::F64).clone(), {}};
  out.backward(seed.to(dtype));
  for (const Var& l : leaves) r.grads.push_back(l.grad().to(DType::F64));
  return r;
}

void expect_f32_matches_f64(const Fn& f, const std::vector<Tensor>& inputs) {
  Shape out_shape;
  {
    NoGradGuard no_grad;
    V consts;
    for (const Tensor& t : inputs) consts.emplace_back(t, false);
    out_shape = f(consts).shape();
  }
  const Tensor seed = randn(out_shape, 99);
  const Run r64 = run(f, inputs, seed, DType::F64);
  const Run r32 = run(f, inputs, seed, DType::F32);
  INFO("forward max diff " << max_abs_diff(r32.out, r64.out));
  CHECK(allclose(r32.out, r64.out, 1e-4, 1e-5));
  for (size_t i = 0; i < inputs.size(); ++i) {
    INFO("input " << i << " grad max diff " << max_abs_diff(r32.grads[i], r64.grads[i]));
    CHECK(allclose(r32.grads[i], r64.grads[i], 1e-4, 1e-5));
  }
}

// Float32 forward + backward with n threads, all results concatenated.
std::vector<double> f32_bits(const Fn& f, const std::vector<Tensor>& inputs, int threads) {
  const int previous = num_threads();
  set_num_threads(threads);
  Shape out_shape;
  {
    NoGradGuard no_grad;
    V consts;
    for (const Tensor& t : inputs) consts.emplace_back(t.to(DType::F32), false);
    out_shape = f(consts).shape();
  }
  const Run r = run(f, inputs, randn(out_shape, 98), DType::F32);
  set_num_threads(previous);
  std::vector<double> all = r.out.to_vector();
  for (const Tensor& g : r.grads) {
    const std::vector<double> v = g.to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// Shapes large enough that every kernel takes its parallel branch.
const std::vector<int32_t>& token_ids() {
  static const std::vector<int32_t> ids = [] {
    std::vector<int32_t> v(256);
    Rng rng(5);
    for (auto& id : v) id = static_cast<int32_t>(rng.below(50));
    v[3] = -1;  // one ignored target for cross_entropy (never used as an embedding id)
    return v;
  }();
  return ids;
}

std::vector<std::pair<std::string, std::pair<Fn, std::vector<Tensor>>>> hot_ops() {
  std::vector<int32_t> emb_ids(token_ids());
  emb_ids[3] = 0;
  return {
      {"linear",
       {[](const V& in) { return ag::linear(in[0], in[1], in[2]); },
        {randn({4, 64, 48}, 1), randn({48, 80}, 2), randn({80}, 3)}}},
      // More tokens than the weight gradient's 1024-row chunks (ragged last chunk).
      {"linear many tokens",
       {[](const V& in) { return ag::linear(in[0], in[1], in[2]); },
        {randn({1100, 8}, 30), randn({8, 6}, 31), randn({6}, 32)}}},
      {"matmul a@b^T",
       {[](const V& in) { return ag::matmul(in[0], in[1], false, true); },
        {randn({2, 64, 32}, 4), randn({50, 32}, 5)}}},
      {"matmul a@b",
       {[](const V& in) { return ag::matmul(in[0], in[1]); },
        {randn({64, 32}, 6), randn({32, 40}, 7)}}},
      {"add",
       {[](const V& in) { return ag::add(in[0], in[1]); },
        {randn({4, 64, 160}, 8), randn({4, 64, 160}, 9)}}},
      {"add broadcast",
       {[](const V& in) { return ag::add(in[0], in[1]); },
        {randn({4, 64, 160}, 10), randn({64, 160}, 11)}}},
      {"layer_norm",
       {[](const V& in) { return ag::layer_norm(in[0], in[1], in[2]); },
        {randn({4, 64, 160}, 12), randn({160}, 13), randn({160}, 14)}}},
      {"rms_norm",
       {[](const V& in) { return ag::rms_norm(in[0], in[1]); },
        {randn({4, 64, 160}, 15), randn({160}, 16)}}},
      {"gelu", {[](const V& in) { return ag::gelu(in[0]); }, {randn({4, 64, 160}, 17)}}},
      {"silu", {[](const V& in) { return ag::silu(in[0]); }, {randn({4, 64, 160}, 18)}}},
      {"softmax", {[](const V& in) { return ag::softmax(in[0]); }, {randn({256, 160}, 19)}}},
      {"attention",
       {[](const V& in) { return ag::causal_self_attention(in[0], 4); },
        {randn({2, 32, 3 * 64}, 20)}}},
      {"sdpa",
       {[](const V& in) { return ag::scaled_dot_product_attention(in[0], in[1], in[2]); },
        {randn({2, 4, 32, 16}, 21), randn({2, 4, 32, 16}, 22), randn({2, 4, 32, 16}, 23)}}},
      // T above the GEMM version's 64-row query block, with a ragged last
      // block: the causal cut between blocks must match the per-row reference.
      {"attention multi-block",
       {[](const V& in) { return ag::causal_self_attention(in[0], 2); },
        {randn({1, 150, 3 * 32}, 26)}}},
      {"sdpa multi-block non-causal",
       {[](const V& in) { return ag::scaled_dot_product_attention(in[0], in[1], in[2], false); },
        {randn({1, 2, 100, 16}, 27), randn({1, 2, 100, 16}, 28), randn({1, 2, 100, 16}, 29)}}},
      {"cross_entropy",
       {[](const V& in) { return ag::cross_entropy(in[0], token_ids()); },
        {randn({4, 64, 130}, 24)}}},
      {"embedding",
       {[emb_ids](const V& in) { return ag::embedding(in[0], emb_ids); }, {randn({50, 160}, 25)}}},
  };
}

}  // namespace

TEST_CASE("f32 kernels match the f64 reference", "[f32]") {
  for (const auto& [name, op] : hot_ops()) {
    INFO(name);
    expect_f32_matches_f64(op.first, op.second);
  }
}

TEST_CASE("f32 kernels give the same bits for 1 and 2 threads", "[f32][determinism]") {
  for (const auto& [name, op] : hot_ops()) {
    INFO(name);
    CHECK(f32_bits(op.first, op.second, 1) == f32_bits(op.first, op.second, 2));
  }
}

TEST_CASE("dropout is reproducible from (seed, counter) and scales survivors", "[f32]") {
  const Tensor x = Tensor::ones({1000}, DType::F32);
  Rng a(3), b(3);
  const Tensor ya = ag::dropout(Var(x), 0.25, a, true).value();
  const Tensor yb = ag::dropout(Var(x), 0.25, b, true).value();
  CHECK(ya.to_vector() == yb.to_vector());
  CHECK(a.counter() == 1000);
  int64_t kept = 0;
  for (double v : ya.to_vector()) {
    CHECK((v == 0.0 || v == Approx(1.0 / 0.75)));
    kept += v != 0.0;
  }
  // 1000 Bernoulli(0.75) draws: mean 750, std 13.7; +-70 is a 5-sigma band.
  CHECK(kept > 680);
  CHECK(kept < 820);
  const Tensor next = ag::dropout(Var(x), 0.25, a, true).value();
  CHECK(next.to_vector() != ya.to_vector());  // the counter moved on
  Rng c(3);
  CHECK(ag::dropout(Var(x), 0.25, c, false).value().to_vector() == x.to_vector());
}

// The kernel decides "keep" with an integer compare on the hash bits; the
// definition is u >= p with u = (bits >> 11) * 2^-53 in double. Same mask?
TEST_CASE("dropout keeps exactly the elements whose uniform draw is at least p", "[f32]") {
  const Tensor x = Tensor::ones({4096}, DType::F32);
  for (double p : {0.0, 0.2, 0.5, 1.0 / 3.0}) {
    Rng rng(11);
    rng.set_counter(77);
    const std::vector<double> y = ag::dropout(Var(x), p, rng, true).value().to_vector();
    for (size_t i = 0; i < y.size(); ++i) {
      const double u = static_cast<double>(hash64(11, 77 + i) >> 11) * 0x1.0p-53;
      INFO("p " << p << " element " << i);
      CHECK((y[i] != 0.0) == (u >= p));
    }
  }
}
