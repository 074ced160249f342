// autograd_step: times one training step (forward + backward) of a tiny GPT
// built directly from autograd ops, and prints the profiler's split by op
// class. The reference measured in the same process is the bare GEMM work of
// the step (the same matrix products called through gemm() with no autograd
// around them): the ratio step / gemm-only says how much the rest costs.
//
//   build/release/bench/autograd_step [steps=10] [threads]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "autograd/ops.h"
#include "autograd/profiler.h"
#include "tensor/matmul.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

constexpr int64_t kLayers = 4, kHeads = 4, kC = 128, kT = 64, kB = 12, kV = 65;

struct Layer {
  Var ln1_w, ln1_b, attn_w, attn_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, fc2_w, fc2_b;
};

struct Model {
  Var wte, wpe, lnf_w, lnf_b;
  std::vector<Layer> layers;
};

Var param(Rng& rng, const Shape& s, double std) {
  return Var(rng.normal(s, 0, std), true);
}
Var ones(const Shape& s) {
  return Var(Tensor::ones(s), true);
}
Var zeros(const Shape& s) {
  return Var(Tensor::zeros(s), true);
}

Model make_model() {
  Rng rng(1);
  Model m{param(rng, {kV, kC}, 0.02), param(rng, {kT, kC}, 0.02), ones({kC}), zeros({kC}), {}};
  for (int64_t l = 0; l < kLayers; ++l)
    m.layers.push_back({ones({kC}), zeros({kC}), param(rng, {kC, 3 * kC}, 0.02), zeros({3 * kC}),
                        param(rng, {kC, kC}, 0.01), zeros({kC}), ones({kC}), zeros({kC}),
                        param(rng, {kC, 4 * kC}, 0.02), zeros({4 * kC}),
                        param(rng, {4 * kC, kC}, 0.01), zeros({kC})});
  return m;
}

Var loss(const Model& m, const std::vector<int32_t>& ids, const std::vector<int32_t>& targets,
         const std::vector<int32_t>& positions) {
  Var x = ag::add(ag::reshape(ag::embedding(m.wte, ids), {kB, kT, kC}),
                  ag::embedding(m.wpe, positions));
  for (const Layer& L : m.layers) {
    Var h = ag::linear(ag::layer_norm(x, L.ln1_w, L.ln1_b), L.attn_w, L.attn_b);
    x = ag::add(x, ag::linear(ag::causal_self_attention(h, kHeads), L.proj_w, L.proj_b));
    h = ag::gelu(ag::linear(ag::layer_norm(x, L.ln2_w, L.ln2_b), L.fc_w, L.fc_b));
    x = ag::add(x, ag::linear(h, L.fc2_w, L.fc2_b));
  }
  Var logits = ag::matmul(ag::layer_norm(x, m.lnf_w, m.lnf_b), m.wte, false, true);
  return ag::cross_entropy(logits, targets);
}

// The step's GEMMs alone: forward (1) and backward (2 per weight) products.
void gemm_only(std::vector<float>& a, std::vector<float>& b, std::vector<float>& c) {
  const int64_t N = kB * kT;
  auto mm = [&](int64_t m, int64_t n, int64_t k, bool ta, bool tb) {
    gemm(GemmArgs{.trans_a = ta,
                  .trans_b = tb,
                  .m = m,
                  .n = n,
                  .k = k,
                  .a = a.data(),
                  .lda = ta ? m : k,
                  .b = b.data(),
                  .ldb = tb ? k : n,
                  .c = c.data(),
                  .ldc = n});
  };
  auto lin = [&](int64_t in, int64_t out) {
    mm(N, out, in, false, false);
    mm(N, in, out, false, true);
    mm(in, out, N, true, false);
  };
  for (int64_t l = 0; l < kLayers; ++l) {
    lin(kC, 3 * kC);
    lin(kC, kC);
    lin(kC, 4 * kC);
    lin(4 * kC, kC);
  }
  mm(N, kV, kC, false, true);
  mm(N, kC, kV, false, false);
  mm(kV, kC, N, true, false);
}

// CPU time of the whole process: on a shared, loaded machine this is a
// steadier measure of the work done than wall time (equal to it when alone).
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const int steps = argc > 1 ? std::atoi(argv[1]) : 10;
  if (argc > 2) set_num_threads(std::atoi(argv[2]));
  Model m = make_model();
  std::vector<int32_t> ids(kB * kT), targets(kB * kT), positions(kT);
  Rng rng(2);
  for (auto& id : ids) id = static_cast<int32_t>(rng.below(kV));
  for (auto& t : targets) t = static_cast<int32_t>(rng.below(kV));
  for (int64_t t = 0; t < kT; ++t) positions[static_cast<size_t>(t)] = static_cast<int32_t>(t);

  loss(m, ids, targets, positions).backward();  // warm-up
  profiler_enable(true);
  profiler_reset();
  auto t0 = std::chrono::steady_clock::now();
  double c0 = cpu_seconds();
  for (int s = 0; s < steps; ++s) loss(m, ids, targets, positions).backward();
  const double step_s = seconds_since(t0) / steps, step_cpu = (cpu_seconds() - c0) / steps;
  profiler_enable(false);

  std::vector<float> a(4 * kC * kB * kT, 0.01f), b(4 * kC * kB * kT, 0.01f), c(4 * kC * kB * kT);
  gemm_only(a, b, c);
  t0 = std::chrono::steady_clock::now();
  c0 = cpu_seconds();
  for (int s = 0; s < steps; ++s) gemm_only(a, b, c);
  const double gemm_s = seconds_since(t0) / steps, gemm_cpu = (cpu_seconds() - c0) / steps;

  std::printf("tiny GPT step (B=%lld T=%lld C=%lld L=%lld), %d threads, %d steps\n",
              static_cast<long long>(kB), static_cast<long long>(kT), static_cast<long long>(kC),
              static_cast<long long>(kLayers), num_threads(), steps);
  std::printf("step %.2f ms = %.0f tokens/s; gemm-only %.2f ms; step / gemm-only = %.2f\n",
              step_s * 1e3, kB * kT / step_s, gemm_s * 1e3, step_s / gemm_s);
  std::printf("cpu time: step %.2f ms, gemm-only %.2f ms, ratio %.2f\n", step_cpu * 1e3,
              gemm_cpu * 1e3, step_cpu / gemm_cpu);
  std::printf("%s", profiler_report().c_str());
  std::printf("(profiled totals over %d steps)\n", steps);
  return 0;
}
