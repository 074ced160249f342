// parallel.cpp: the thread pool behind parallel.h (read that first).
//
// One region at a time owns the pool. Its state is one 64-bit word, `claim_`:
//   width (16 bits) | next chunk (24 bits) | chunk count (24 bits).
// A thread takes a chunk with a compare-and-swap that bumps `next`; a worker
// whose index is >= width stays out. Because the count travels in the same
// word, a worker that wakes late can never take a chunk that does not exist:
// either it claims a real chunk of the region that is running (and the region
// cannot end before that chunk is done), or its swap fails. `unfinished_`
// counts chunks not yet done; the caller returns when it reaches zero.
#include "tensor/parallel.h"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tensor/threads.h"

namespace cpurich {
namespace {

thread_local bool t_in_region = false;

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Spins while pred() is false for at most kSpinBudget; true if it came true.
template <class Pred>
bool spin_until(Pred pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline) return pred();
  }
}

// ceil(quota / period) of a cgroup v2 cpu.max ("max 100000" = no limit) or
// of v1's two files; 0 when there is no limit or no file.
int quota_v2(const std::string& dir) {
  std::ifstream f(dir + "/cpu.max");
  std::string quota;
  double period = 0;
  if (!(f >> quota >> period) || quota == "max" || period <= 0) return 0;
  return static_cast<int>(std::ceil(std::stod(quota) / period));
}
int quota_v1(const std::string& dir) {
  std::ifstream q(dir + "/cpu.cfs_quota_us"), p(dir + "/cpu.cfs_period_us");
  double quota = 0, period = 0;
  if (!(q >> quota) || !(p >> period) || quota <= 0 || period <= 0) return 0;
  return static_cast<int>(std::ceil(quota / period));
}

// The smallest CPU quota on the way from this process's cgroup to the root.
int cgroup_cpu_limit() {
  std::ifstream self("/proc/self/cgroup");
  int limit = 0;
  auto take = [&](int q) {
    if (q > 0) limit = limit == 0 ? q : std::min(limit, q);
  };
  for (std::string line; std::getline(self, line);) {
    // "0::/path" (v2) or "4:cpu,cpuacct:/path" (v1)
    const auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    std::string path = line.substr(b + 1);
    const bool v2 = controllers.empty();
    if (!v2 && controllers.find("cpu") == std::string::npos) continue;
    const std::string root = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/" + controllers;
    for (;;) {
      take(v2 ? quota_v2(root + path) : quota_v1(root + path));
      if (path.empty() || path == "/") break;
      path = path.substr(0, path.rfind('/'));
    }
  }
  return limit;
}

int measure_usable_cores() {
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cores = CPU_COUNT(&set);
  const int quota = cgroup_cpu_limit();
  if (quota > 0) cores = std::min(cores, quota);
  return std::max(cores, 1);
}

std::atomic<int> g_cores_override{0};

constexpr int kCountBits = 24, kNextShift = 24, kWidthShift = 48;
constexpr uint64_t kCountMask = (uint64_t{1} << kCountBits) - 1;
constexpr int64_t kMaxChunks = static_cast<int64_t>(kCountMask);

class Pool {
 public:
  // The workers start now, asleep, rather than inside the first region: Linux
  // runs a new thread first on its creator's core (where the caller is about
  // to work), while a sleeping thread that is woken goes to an idle core.
  Pool() { grow(usable_cores() - 1); }

  ~Pool() {
    stop_.store(true);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  // Runs one region if the pool is free; false if another thread holds it.
  bool try_run(int64_t chunks, int width, detail::ChunkFn fn) {
    std::unique_lock lock(busy_, std::try_to_lock);
    if (!lock.owns_lock()) return false;
    grow(width - 1);
    fn_ = fn;
    error_ = nullptr;
    failed_.store(false, std::memory_order_relaxed);
    unfinished_.store(static_cast<uint32_t>(chunks), std::memory_order_relaxed);
    claim_.store(static_cast<uint64_t>(width) << kWidthShift | static_cast<uint64_t>(chunks),
                 std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
    generation_.notify_all();  // a system call only if a worker sleeps
    t_in_region = true;
    work(0);
    t_in_region = false;
    // Only chunks other threads are running are left: wait for them.
    auto done = [&] { return unfinished_.load(std::memory_order_acquire) == 0; };
    if (!spin_until(done)) {
      for (uint32_t left; (left = unfinished_.load(std::memory_order_acquire)) != 0;)
        unfinished_.wait(left, std::memory_order_acquire);
    }
    if (error_) std::rethrow_exception(error_);
    return true;
  }

 private:
  // Starts workers until there are n (tests may widen the pool later), and
  // returns once each has run and gone to sleep (see the constructor).
  void grow(int n) {
    while (static_cast<int>(workers_.size()) < n) {
      const int index = static_cast<int>(workers_.size()) + 1;
      workers_.emplace_back([this, index] { worker_loop(index); });
    }
    for (int s; (s = started_.load(std::memory_order_acquire)) < n;)
      started_.wait(s, std::memory_order_acquire);
  }

  // Takes and runs chunks of the current region until none is left.
  //! [take_chunks]
  void work(int index) {
    uint64_t w = claim_.load(std::memory_order_acquire);
    for (;;) {
      const auto count = static_cast<int64_t>(w & kCountMask);
      const auto next = static_cast<int64_t>(w >> kNextShift & kCountMask);
      if (next >= count || index >= static_cast<int>(w >> kWidthShift)) return;
      if (!claim_.compare_exchange_weak(w, w + (uint64_t{1} << kNextShift),
                                        std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      if (!failed_.load(std::memory_order_relaxed)) {
        try {
          fn_.call(fn_.self, next);
        } catch (...) {
          if (!failed_.exchange(true)) error_ = std::current_exception();
        }
      }
      if (unfinished_.fetch_sub(1, std::memory_order_acq_rel) == 1) unfinished_.notify_all();
      w = claim_.load(std::memory_order_acquire);
    }
  }
  //! [take_chunks]

  void worker_loop(int index) {
    t_in_region = true;  // a worker only ever runs region code
    uint32_t seen = generation_.load(std::memory_order_acquire);
    started_.fetch_add(1, std::memory_order_release);
    started_.notify_all();
    for (;;) {
      auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      // A worker the last region did not invite (a narrower region) sleeps at
      // once: only threads that have work may hold a core.
      const bool invited =
          index < static_cast<int>(claim_.load(std::memory_order_relaxed) >> kWidthShift);
      if (!(invited && spin_until(changed))) generation_.wait(seen, std::memory_order_acquire);
      seen = generation_.load(std::memory_order_acquire);
      if (stop_.load()) return;
      work(index);
    }
  }

  std::mutex busy_;  // held by the caller of the running region
  std::vector<std::thread> workers_;
  detail::ChunkFn fn_{};
  std::exception_ptr error_;
  std::atomic<bool> failed_{false}, stop_{false};
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<uint32_t> unfinished_{0};
  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<int> started_{0};
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

int usable_cores() {
  const int forced = g_cores_override.load(std::memory_order_relaxed);
  if (forced > 0) return forced;
  static const int cores = measure_usable_cores();
  return cores;
}

int parallel_width() {
  if (t_in_region) return 1;
  return std::max(1, std::min(num_threads(), usable_cores()));
}

bool in_parallel_region() {
  return t_in_region;
}

void wait_at_least(const std::atomic<int64_t>& count, int64_t target) {
  if (spin_until([&] { return count.load(std::memory_order_acquire) >= target; })) return;
  for (int64_t v; (v = count.load(std::memory_order_acquire)) < target;)
    count.wait(v, std::memory_order_acquire);
}

namespace detail {

void run_chunks(int64_t chunks, int width, ChunkFn fn) {
  for (int64_t base = 0; base < chunks; base += kMaxChunks) {
    const int64_t n = std::min(kMaxChunks, chunks - base);
    auto shifted = [&](int64_t c) { fn.call(fn.self, base + c); };
    using Shifted = decltype(shifted);
    const ChunkFn part{[](const void* self, int64_t c) { (*static_cast<const Shifted*>(self))(c); },
                       &shifted};
    const bool serial = width <= 1 || n <= 1 || t_in_region;
    if (serial || !pool().try_run(n, std::min(width, 0xFFFF), part)) {
      const bool outer = t_in_region;
      t_in_region = true;  // nested regions inside these chunks stay serial
      try {
        for (int64_t c = 0; c < n; ++c) part.call(part.self, c);
      } catch (...) {
        t_in_region = outer;
        throw;
      }
      t_in_region = outer;
    }
  }
}

void set_usable_cores_for_testing(int n) {
  g_cores_override.store(std::max(n, 0), std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace cpurich
