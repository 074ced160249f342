// spin_barrier.h: a barrier for the threads of one OpenMP team that waits by
// spinning on a shared counter instead of sleeping in the kernel.
//
// What it teaches: a barrier ("nobody goes on until everybody got here") is
// the price of splitting one token's work over threads: at batch 1 every
// layer needs whole rows of the step before (the attention needs all of q, k,
// v; the MLP all of x ...), so a decode step of a 4-layer model meets ~20 of
// them. GCC's OpenMP barrier (libgomp) ends with a futex_wake system call
// even when the other thread is spinning, not sleeping; on the 2-core virtual
// machine this was tuned on (kernel page-table isolation on) a 2-thread
// `omp barrier` measured 1.5-1.7 us, about a whole tiny-model matrix
// product. This barrier is two atomic counters in their own cache lines:
// arrive = increment, the last arrival bumps the generation, everyone else
// watches the generation change; it measured ~0.5 us there, about the time a
// cache line takes to travel between two cores and back. It stays usable with
// more threads than cores: after ~40 us of spinning a waiter sleeps in the
// kernel (std::atomic::wait) so the thread it waits for can have the core.
//
// Pipeline position: tokens -> model -> [decode: threads] -> samples.
#pragma once

#include <atomic>

namespace cpurich {

/// A reusable barrier for exactly `threads` participants (the team of one
/// `#pragma omp parallel`). Every participant must call wait() the same
/// number of times. Memory written before wait() by any participant is
/// visible to all of them after it (release/acquire ordering).
class SpinBarrier {
 public:
  /// threads >= 1; with 1, wait() returns at once.
  explicit SpinBarrier(int threads) : threads_(threads) {}
  SpinBarrier(const SpinBarrier&) = delete;
  SpinBarrier& operator=(const SpinBarrier&) = delete;

  /// Blocks until all `threads` participants have called wait() this round.
  void wait();

 private:
  const int threads_;
  alignas(64) std::atomic<int> arrived_{0};          // participants in this round
  alignas(64) std::atomic<unsigned> generation_{0};  // rounds completed
};

}  // namespace cpurich
