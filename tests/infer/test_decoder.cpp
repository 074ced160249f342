// Decoder: the fast kernels match their naive references, the KV cache changes
// no bit of the logits, and the logits match nn's GPT::forward.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "infer/decoder.h"
#include "infer/matvec.h"
#include "infer/sampling.h"
#include "tensor/threads.h"
#include "test_util.h"

using namespace cpurich;

namespace {

std::vector<float> random_vector(int64_t n, uint64_t seed) {
  const Tensor t = Rng(seed).normal({n});
  return {t.span_f32().begin(), t.span_f32().end()};
}

// Last-position logits of GPT::forward on ids (the autograd reference).
std::vector<float> reference_logits(GPT& model, const std::vector<int32_t>& ids) {
  const auto T = static_cast<int64_t>(ids.size());
  const Tensor logits = model.forward(ids, 1, T).value();  // (1, T, V)
  const Tensor last = logits.slice(1, T - 1, T).contiguous();
  return {last.span_f32().begin(), last.span_f32().end()};
}

}  // namespace

TEST_CASE("linear_panels matches the naive loop bit for bit") {
  // Odd sizes: a partial last panel (100 = 64 + 36) and leftover rows (7 = 4 + 3).
  const int64_t C = 37, N = 100;
  const auto w = random_vector(C * N, 1), b = random_vector(N, 2), x = random_vector(7 * C, 3);
  const PackedLinear packed = pack_linear(w.data(), b.data(), C, N);
  for (const Epilogue ep : {Epilogue::Store, Epilogue::Gelu, Epilogue::Accumulate}) {
    for (const int64_t rows : {1, 4, 7}) {
      auto y = random_vector(rows * N, 4), ref = y;  // Accumulate adds to y
      linear_panels(packed, x.data(), C, rows, y.data(), N, 0, packed.num_panels(), ep);
      linear_naive(x.data(), C, rows, C, w.data(), N, b.data(), ref.data(), N, ep);
      CHECK(y == ref);
    }
  }
}

TEST_CASE("decoder logits match GPT::forward, prefill and every decode step") {
  const auto config = test::small_config(32, 20);
  GPT model = test::random_model(config, 11);
  Decoder decoder(model);
  std::vector<int32_t> ids = {3, 1, 4, 1, 5, 9, 2, 6};
  auto logits = decoder.append(ids);
  for (int step = 0; step <= 12; ++step) {
    const auto ref = reference_logits(model, ids);
    // Same math in a different summation order (blocked GEMMs vs our row
    // loops): float32 rounding differences of ~1e-6 relative per op, grown
    // by LayerNorms through 2 layers. 1e-4 (x max|logit|) is still 100x
    // smaller than the logit gaps that decide a sample; a real bug (wrong
    // position, missing bias, wrong head) gives errors of order 1.
    double scale = 1.0;
    for (float z : ref) scale = std::max(scale, static_cast<double>(std::fabs(z)));
    for (size_t v = 0; v < ref.size(); ++v) CHECK(std::fabs(logits[v] - ref[v]) <= 1e-4 * scale);
    const int32_t next = (step * 7 + 3) % 20;
    ids.push_back(next);
    logits = decoder.step(next);
  }
}

TEST_CASE("greedy decoding with the KV cache equals full recomputation, bit for bit") {
  const auto config = test::small_config(128, 20);
  const GPT model = test::random_model(config, 12);
  Decoder cached(model), uncached(model);
  std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  auto logits = cached.append(ids);
  std::vector<float> cached_logits(logits.begin(), logits.end());
  int distinct = 0;
  for (int step = 0; step < 100; ++step) {
    uncached.reset();
    const auto full = uncached.append(ids);  // the whole context, no reuse
    REQUIRE(std::vector<float>(full.begin(), full.end()) == cached_logits);
    const int32_t next = argmax(full);
    distinct += (next != ids.back());
    ids.push_back(next);
    const auto l = cached.step(next);
    cached_logits.assign(l.begin(), l.end());
  }
  CHECK(distinct > 10);  // the greedy path is not one token repeated
}

TEST_CASE("decoder logits do not depend on the thread count") {
  const auto config = test::small_config(32, 20);
  const GPT model = test::random_model(config, 13);
  const std::vector<int32_t> ids = {7, 7, 1, 0, 19, 3, 2, 2, 8, 4};
  const int before = num_threads();
  std::vector<std::vector<float>> runs;
  for (const int threads : {1, 2, 3}) {
    set_num_threads(threads);
    Decoder d(model);
    d.set_parallel_threshold(0);  // really use the threads on this small model
    d.append(std::span(ids).first(6));
    for (size_t i = 6; i < ids.size(); ++i) d.step(ids[i]);
    runs.emplace_back(d.logits().begin(), d.logits().end());
  }
  set_num_threads(before);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}

TEST_CASE("decoder rejects bad input with clear messages") {
  const auto config = test::small_config(8, 20);
  const GPT model = test::random_model(config, 14);
  Decoder d(model);
  CHECK_THROWS_WITH(d.append(std::vector<int32_t>{1, 20}),
                    Catch::Contains("token id 20 outside [0, 20)"));
  CHECK(d.length() == 0);  // nothing was half-applied
  CHECK_THROWS_WITH(d.append(std::vector<int32_t>(9, 1)),
                    Catch::Contains("exceed the context of 8"));
  d.append(std::vector<int32_t>(8, 1));
  CHECK_THROWS_WITH(d.step(1), Catch::Contains("exceed the context"));
  auto sd = model.state_dict();
  sd.erase("h.1.mlp.c_fc.bias");
  CHECK_THROWS_WITH(Decoder(config, sd), Catch::Contains("missing tensor 'h.1.mlp.c_fc.bias'"));
  sd = model.state_dict();
  sd["ln_f.weight"] = Tensor::zeros({31});
  CHECK_THROWS_WITH(Decoder(config, sd), Catch::Contains("'ln_f.weight' has shape (31,)"));
}

TEST_CASE("sync reuses the cached prefix and gives the same logits") {
  const auto config = test::small_config(32, 20);
  const GPT model = test::random_model(config, 15);
  Decoder a(model), b(model);
  a.append(std::vector<int32_t>{1, 2, 3, 4, 5, 6});
  const std::vector<int32_t> target = {1, 2, 3, 9, 9};
  const auto la = a.sync(target);
  const std::vector<float> got(la.begin(), la.end());
  const auto lb = b.append(target);
  CHECK(got == std::vector<float>(lb.begin(), lb.end()));
  CHECK(std::vector<int32_t>(a.tokens().begin(), a.tokens().end()) == target);
}
