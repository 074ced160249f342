// parallel.h: cpurich's one threading policy, a persistent pool of threads.
//
// What it teaches: how to split a loop over cores so that it stays fast when
// the cores are not all ours. A parallel region is a fork/join: the caller
// hands out work and cannot go on until every piece is done. If a helper
// thread busy-waits for work it holds a core another program wants; if the OS
// then deschedules it (or one it waits for), the whole region waits a time
// slice (milliseconds) for work worth microseconds. The policy here:
//   - workers are started once and kept; between regions a worker spins for
//     at most kSpinBudget, then sleeps in the kernel (a futex via
//     std::atomic::wait) until the next region wakes it: nothing spins without
//     bound, so a busy machine gets the core back;
//   - the caller takes part: it works on the region instead of waiting;
//   - work is cut into ~kChunksPerThread chunks per thread and every thread
//     takes the next free chunk (one atomic increment): a thread the OS has
//     not run yet simply gets fewer chunks, the running ones take the rest;
//   - width = min(num_threads(), usable_cores()), where usable_cores() reads
//     the affinity mask and the cgroup CPU quota, so there are never more
//     runnable threads than cores we may use;
//   - a region started from inside a region (or while another thread's region
//     holds the pool) runs serially on the calling thread;
//   - an exception thrown by any chunk is rethrown to the caller.
// Determinism: the pool only decides WHICH thread runs a chunk, never what a
// chunk computes. f(i) must depend on i alone and write only its own outputs.
// Sums across iterations stay in the caller's hands: it fixes its own partial
// sums (as every reduction in cpurich does) and adds them in a fixed order, so
// results are bitwise the same for any thread count and any scheduling.
//
// Pipeline position: under everything. Used by the GEMM team, the tensor and
// autograd ops, the optimizer and the decoder.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace cpurich {

/// Chunks per thread that parallel_for cuts a loop into. More chunks let a
/// running thread take over more of a stalled thread's share; each costs one
/// atomic increment on a shared cache line.
inline constexpr int64_t kChunksPerThread = 8;

/// How long a waiting thread spins before it sleeps. Long enough to cover the
/// gap between two back-to-back regions (a decode step opens one every few
/// microseconds), so a quiet machine never pays a futex wake-up there; short
/// enough that a thread spinning on a core another program needs gives it
/// back within a small fraction of a scheduler time slice (~3 ms).
inline constexpr std::chrono::microseconds kSpinBudget{50};

/// Cores this process may run on: its affinity mask (sched_getaffinity),
/// capped by a cgroup CPU quota (v2 cpu.max, v1 cfs_quota_us), rounded up.
int usable_cores();

/// Threads a region started now would use: min(num_threads(), usable_cores()),
/// and 1 on a thread already running part of a region.
int parallel_width();

/// True on a thread that is running part of a parallel region.
bool in_parallel_region();

/// Waits until count >= target: spins up to kSpinBudget, then sleeps. The
/// threads that increment `count` must call count.notify_all() afterwards.
void wait_at_least(const std::atomic<int64_t>& count, int64_t target);

namespace detail {

/// A borrowed callable taking a chunk index (no allocation, no ownership).
struct ChunkFn {
  void (*call)(const void* self, int64_t chunk);
  const void* self;
};

/// Runs fn(c) for every c in [0, chunks) on up to `width` threads (the caller
/// is one of them); returns when all have finished and rethrows the first
/// exception any of them threw.
void run_chunks(int64_t chunks, int width, ChunkFn fn);

/// Tests only: behave as if the process could use n cores (0 = measure).
void set_usable_cores_for_testing(int n);

template <class F>
void call_range(F& f, int64_t lo, int64_t hi) {
  if constexpr (std::is_invocable_v<F&, int64_t, int64_t>) {
    f(lo, hi);
  } else {
    for (int64_t i = lo; i < hi; ++i) f(i);
  }
}

}  // namespace detail

/// Calls f(i) for every i in [begin, end), or f(lo, hi) on consecutive
/// sub-ranges covering it, on the pool. Chunks hold >= grain iterations.
/// f must not sum across iterations (see Determinism above).
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, F&& f) {
  if (end <= begin) return;
  const int64_t n = end - begin;
  const int width = parallel_width();
  const int64_t g = grain < 1 ? 1 : grain;
  int64_t chunks = (n + g - 1) / g;
  if (chunks > kChunksPerThread * width) chunks = kChunksPerThread * width;
  if (width == 1 || chunks <= 1) return detail::call_range(f, begin, end);
  const int64_t size = (n + chunks - 1) / chunks;
  chunks = (n + size - 1) / size;
  auto chunk = [&](int64_t c) {
    const int64_t lo = begin + c * size;
    detail::call_range(f, lo, lo + size < end ? lo + size : end);
  };
  using Chunk = decltype(chunk);
  detail::run_chunks(
      chunks, width,
      {[](const void* self, int64_t c) { (*static_cast<const Chunk*>(self))(c); }, &chunk});
}

/// parallel_for with grain 1.
template <class F>
void parallel_for(int64_t begin, int64_t end, F&& f) {
  parallel_for(begin, end, 1, f);
}

/// parallel_for when `parallel`, else the plain loop on the caller (for loops
/// too small to be worth waking a thread).
template <class F>
void parallel_for_if(bool parallel, int64_t begin, int64_t end, F&& f) {
  if (!parallel) {
    if (end > begin) detail::call_range(f, begin, end);
    return;
  }
  parallel_for(begin, end, 1, f);
}

/// Calls f(member) once for each member = 0..n-1 on min(n, parallel_width())
/// threads: a fixed team for code that keeps per-member state (the GEMM's A
/// blocks). Members may run one after another on the same thread, so a member
/// must never wait for another member to start, only for work already claimed.
template <class F>
void run_team(int n, F&& f) {
  if (n <= 0) return;
  auto member = [&](int64_t c) { f(static_cast<int>(c)); };
  using Member = decltype(member);
  const int width = parallel_width();
  detail::run_chunks(
      n, n < width ? n : width,
      {[](const void* self, int64_t c) { (*static_cast<const Member*>(self))(c); }, &member});
}

}  // namespace cpurich
