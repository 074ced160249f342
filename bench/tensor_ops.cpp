// bench/tensor_ops.cpp: the tensor core's hot paths against plain loops.
//
// What it teaches: how much the strided machinery (broadcasting, views, collapsed
// dims, tiles, threads) costs or saves compared with the loop you would write by
// hand for one fixed layout. Each line prints the best of 7 runs of our op and of
// a naive single-threaded reference measured in the same process, and their ratio
// (reference / ours: > 1 means we are faster). Our ops allocate their output, the
// references write into a preallocated buffer.
//
// Run: CPURICH_THREADS=1 build/release/bench/tensor_ops   (or 2, ...)
#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

#include "tensor/ops.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

template <typename F>
double best_ms(F f, int reps = 7) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  return best;
}

void report(const char* name, double ours, double naive) {
  std::printf("%-34s ours %8.3f ms   naive %8.3f ms   naive/ours %5.2fx\n", name, ours, naive,
              naive / ours);
}

// Keeps the compiler from deleting a reference loop whose result is otherwise unused.
volatile double g_sink = 0;

}  // namespace

int main() {
  init_threads_from_env();
  std::printf("tensor_ops: %d thread(s), (R, C) = (1024, 1024) f32\n", num_threads());
  const int64_t R = 1024, C = 1024;
  Rng rng(1);
  const Tensor a = rng.normal({R, C}), b = rng.normal({R, C}), row = rng.normal({C});
  const Tensor bt = rng.normal({C, R}).transpose(0, 1);  // (R, C) view, strides (1, R)
  const float* pa = a.data_f32();
  const float* pb = b.data_f32();
  const float* pr = row.data_f32();
  const float* pbt = bt.data_f32();
  std::vector<float> out(static_cast<std::size_t>(R * C));
  std::vector<double> acc(static_cast<std::size_t>(C));

  report("add (R,C)+(R,C)", best_ms([&] { add(a, b); }), best_ms([&] {
           for (int64_t i = 0; i < R * C; ++i) out[i] = pa[i] + pb[i];
         }));
  report("add (R,C)+(C) broadcast", best_ms([&] { add(a, row); }), best_ms([&] {
           for (int64_t i = 0; i < R; ++i)
             for (int64_t j = 0; j < C; ++j) out[i * C + j] = pa[i * C + j] + pr[j];
         }));
  report("add (R,C)+transposed view", best_ms([&] { add(a, bt); }), best_ms([&] {
           for (int64_t i = 0; i < R; ++i)
             for (int64_t j = 0; j < C; ++j) out[i * C + j] = pa[i * C + j] + pbt[j * R + i];
         }));
  report("contiguous() of a transpose", best_ms([&] { bt.contiguous(); }), best_ms([&] {
           for (int64_t i = 0; i < R; ++i)
             for (int64_t j = 0; j < C; ++j) out[i * C + j] = pbt[j * R + i];
         }));
  report("exp", best_ms([&] { exp(a); }), best_ms([&] {
           for (int64_t i = 0; i < R * C; ++i) out[i] = std::exp(pa[i]);
         }));
  report("sum axis -1 (rows)", best_ms([&] { sum(a, -1); }), best_ms([&] {
           for (int64_t i = 0; i < R; ++i) {
             double s = 0;
             for (int64_t j = 0; j < C; ++j) s += pa[i * C + j];
             out[i] = static_cast<float>(s);
           }
         }));
  report("sum axis 0 (columns)", best_ms([&] { sum(a, 0); }), best_ms([&] {
           std::fill(acc.begin(), acc.end(), 0.0);
           for (int64_t i = 0; i < R; ++i)
             for (int64_t j = 0; j < C; ++j) acc[j] += pa[i * C + j];
           g_sink = acc[0];
         }));
  report("sum_to_shape (R,C) -> (C)", best_ms([&] { sum_to_shape(a, {C}); }), best_ms([&] {
           std::fill(acc.begin(), acc.end(), 0.0);
           for (int64_t i = 0; i < R; ++i)
             for (int64_t j = 0; j < C; ++j) acc[j] += pa[i * C + j];
           g_sink = acc[C - 1];
         }));
  report("softmax rows", best_ms([&] { softmax(a); }), best_ms([&] {
           for (int64_t i = 0; i < R; ++i) {
             const float* x = pa + i * C;
             float m = x[0];
             for (int64_t j = 1; j < C; ++j) m = std::max(m, x[j]);
             double s = 0;
             for (int64_t j = 0; j < C; ++j) s += out[i * C + j] = std::exp(x[j] - m);
             for (int64_t j = 0; j < C; ++j)
               out[i * C + j] = static_cast<float>(out[i * C + j] / s);
           }
         }));
  report("Rng::normal (R,C)", best_ms([&] {
           rng.normal({R, C});
         }),
         best_ms([&] {
           Rng r(2);
           for (int64_t i = 0; i < R * C; ++i) out[i] = static_cast<float>(r.normal());
         }));
  return 0;
}
