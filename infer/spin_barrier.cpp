// spin_barrier.cpp: the centralised sense-counting barrier (see spin_barrier.h).
#include "infer/spin_barrier.h"

namespace cpurich {

namespace {

// Tells the core we are spinning (x86 PAUSE: saves power, and frees the
// pipeline for a sibling hyper-thread); nothing elsewhere.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

void SpinBarrier::wait() {
  // Read the round number BEFORE arriving: once we have arrived, the last
  // thread may bump it at any moment.
  const unsigned round = generation_.load(std::memory_order_acquire);
  if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
    // Last to arrive: reset the count for the next round, then release
    // everybody. The release store publishes every write made before any
    // participant's arrival (they reached us through arrived_'s acq_rel).
    arrived_.store(0, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();  // no system call unless somebody sleeps
    return;
  }
  // Spin first: in a balanced decode step the others arrive within a few
  // microseconds. If they do not (a thread lost its core to another
  // process), sleep in the kernel (std::atomic::wait, a futex on Linux) so
  // we do not hold a core that the late thread may need. ~2^11 pauses is
  // some tens of microseconds.
  constexpr int kSpins = 1 << 11;
  for (int spins = 0; spins < kSpins; ++spins) {
    if (generation_.load(std::memory_order_acquire) != round) return;
    cpu_relax();
  }
  while (generation_.load(std::memory_order_acquire) == round)
    generation_.wait(round, std::memory_order_acquire);
}

}  // namespace cpurich
