// test_parallel.cpp: the thread pool (tensor/parallel.h): every index runs
// exactly once, nested regions run serially, exceptions reach the caller, the
// width never exceeds the usable cores, and a reduction built on the pool
// gives the same bits for 1, 2 and 4 threads.
#include <time.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tensor/parallel.h"
#include "tensor/rng.h"
#include "tensor/threads.h"

using namespace cpurich;

namespace {

// Sets the thread count (and pretends to have that many cores) for one scope.
struct ThreadScope {
  int old = num_threads();
  explicit ThreadScope(int n) {
    detail::set_usable_cores_for_testing(n);
    set_num_threads(n);
  }
  ~ThreadScope() {
    detail::set_usable_cores_for_testing(0);
    set_num_threads(old);
  }
};

// sum of x in fixed blocks of 1000, blocks added in order: the way cpurich's
// reductions use the pool.
double pooled_sum(const std::vector<float>& x) {
  constexpr int64_t kBlock = 1000;
  const auto n = static_cast<int64_t>(x.size());
  std::vector<double> partial(static_cast<size_t>((n + kBlock - 1) / kBlock), 0.0);
  parallel_for(0, static_cast<int64_t>(partial.size()), [&](int64_t b) {
    float acc = 0.0f;  // float on purpose: the order of additions shows in the bits
    for (int64_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i)
      acc += x[static_cast<size_t>(i)];
    partial[static_cast<size_t>(b)] = acc;
  });
  double total = 0.0;
  for (const double p : partial) total += p;
  return total;
}

}  // namespace

TEST_CASE("parallel_for runs every index exactly once", "[parallel]") {
  for (const int threads : {1, 2, 3, 4}) {
    ThreadScope scope(threads);
    for (const int64_t n : {int64_t{0}, int64_t{1}, int64_t{7}, int64_t{64}, int64_t{1001}}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n) + 10);
      parallel_for(5, 5 + n, [&](int64_t i) { hits[static_cast<size_t>(i)].fetch_add(1); });
      for (int64_t i = 0; i < n + 10; ++i)
        REQUIRE(hits[static_cast<size_t>(i)].load() == (i >= 5 && i < 5 + n ? 1 : 0));
      // The range form covers [begin, end) with disjoint pieces of >= grain.
      std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
      std::atomic<int> short_chunks{0};
      parallel_for(0, n, 10, [&](int64_t lo, int64_t hi) {
        if (hi - lo < 10 && hi != n) short_chunks.fetch_add(1);
        for (int64_t i = lo; i < hi; ++i) seen[static_cast<size_t>(i)].fetch_add(1);
      });
      for (auto& s : seen) REQUIRE(s.load() == 1);
      CHECK(short_chunks.load() == 0);
    }
  }
}

TEST_CASE("parallel_for_if(false) runs on the caller only", "[parallel]") {
  ThreadScope scope(2);
  const auto caller = std::this_thread::get_id();
  std::atomic<int> elsewhere{0};
  parallel_for_if(false, 0, 1000, [&](int64_t) {
    if (std::this_thread::get_id() != caller) elsewhere.fetch_add(1);
  });
  CHECK(elsewhere.load() == 0);
}

TEST_CASE("the pool really uses more than one thread", "[parallel]") {
  ThreadScope scope(2);
  // Each chunk waits (bounded) for another chunk to be running at the same
  // time; with one thread only, none would ever see a second one.
  std::atomic<int> running{0}, overlapped{0};
  parallel_for(0, 2, [&](int64_t) {
    running.fetch_add(1);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (running.load() < 2 && std::chrono::steady_clock::now() < until)
      std::this_thread::yield();
    if (running.load() == 2) overlapped.fetch_add(1);
  });
  CHECK(overlapped.load() >= 1);
}

TEST_CASE("nested regions run serially on the thread that opened them", "[parallel]") {
  ThreadScope scope(2);
  std::vector<std::atomic<int>> hits(64 * 64);
  std::atomic<int> wrong_thread{0}, wrong_width{0};
  parallel_for(0, 64, [&](int64_t i) {
    CHECK(in_parallel_region());
    if (parallel_width() != 1) wrong_width.fetch_add(1);
    const auto me = std::this_thread::get_id();
    parallel_for(0, 64, [&](int64_t j) {
      if (std::this_thread::get_id() != me) wrong_thread.fetch_add(1);
      hits[static_cast<size_t>(i * 64 + j)].fetch_add(1);
    });
  });
  CHECK(!in_parallel_region());
  CHECK(wrong_thread.load() == 0);
  CHECK(wrong_width.load() == 0);
  for (auto& h : hits) REQUIRE(h.load() == 1);
}

TEST_CASE("an exception in any chunk reaches the caller, and the pool keeps working",
          "[parallel]") {
  ThreadScope scope(2);
  for (const int64_t bad : {int64_t{0}, int64_t{7}, int64_t{15}}) {
    std::atomic<int> ran{0};
    CHECK_THROWS_AS(parallel_for(0, 16,
                                 [&](int64_t i) {
                                   ran.fetch_add(1);
                                   if (i == bad) throw std::runtime_error("chunk failed");
                                 }),
                    std::runtime_error);
    CHECK(ran.load() >= 1);
  }
  CHECK_THROWS_AS(run_team(2,
                           [](int m) {
                             if (m == 1) throw std::out_of_range("member");
                           }),
                  std::out_of_range);
  std::atomic<int64_t> sum{0};
  parallel_for(0, 100, [&](int64_t i) { sum.fetch_add(i); });
  CHECK(sum.load() == 4950);
}

TEST_CASE("width is the thread setting clamped to the usable cores", "[parallel]") {
  const int cores = usable_cores();
  REQUIRE(cores >= 1);
  CHECK(cores <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  const int old = num_threads();
  set_num_threads(cores + 3);
  CHECK(parallel_width() == cores);
  set_num_threads(1);
  CHECK(parallel_width() == 1);
  set_num_threads(old);
  // A team never has more members than it asked for, each member runs once.
  ThreadScope scope(4);
  std::vector<std::atomic<int>> members(4);
  run_team(3, [&](int m) { members[static_cast<size_t>(m)].fetch_add(1); });
  CHECK(members[0].load() == 1);
  CHECK(members[1].load() == 1);
  CHECK(members[2].load() == 1);
  CHECK(members[3].load() == 0);
}

TEST_CASE("a reduction on the pool gives the same bits for 1, 2 and 4 threads", "[parallel]") {
  Rng rng(7);
  std::vector<float> x(200'003);
  for (float& v : x) v = static_cast<float>(rng.normal()) * 1000.0f;
  double sums[3];
  const int counts[3] = {1, 2, 4};
  for (int k = 0; k < 3; ++k) {
    ThreadScope scope(counts[k]);
    sums[k] = pooled_sum(x);
    for (int rep = 0; rep < 20; ++rep) REQUIRE(pooled_sum(x) == sums[k]);
  }
  CHECK(std::memcmp(&sums[0], &sums[1], sizeof(double)) == 0);
  CHECK(std::memcmp(&sums[0], &sums[2], sizeof(double)) == 0);
}

TEST_CASE("regions from two threads at once both complete", "[parallel]") {
  ThreadScope scope(2);
  std::atomic<int64_t> a{0}, b{0};
  std::thread other([&] {
    for (int r = 0; r < 200; ++r) parallel_for(0, 100, [&](int64_t i) { a.fetch_add(i); });
  });
  for (int r = 0; r < 200; ++r) parallel_for(0, 100, [&](int64_t i) { b.fetch_add(i); });
  other.join();
  CHECK(a.load() == 200 * 4950);
  CHECK(b.load() == 200 * 4950);
}

TEST_CASE("wait_at_least returns once another thread reaches the count", "[parallel]") {
  std::atomic<int64_t> count{0};
  std::thread producer([&] {
    for (int i = 0; i < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // past the spin budget
      count.fetch_add(1);
      count.notify_all();
    }
  });
  wait_at_least(count, 5);
  CHECK(count.load() == 5);
  producer.join();
}

TEST_CASE("idle workers sleep instead of spinning", "[parallel]") {
  ThreadScope scope(2);
  auto cpu_seconds = [] {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  };
  // set_num_threads also resizes OpenBLAS's pool, whose threads spin for a
  // while on their own: let them settle first, this test is about ours.
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  std::atomic<int64_t> sum{0};
  parallel_for(0, 64, [&](int64_t i) { sum.fetch_add(i); });  // the workers exist and ran
  REQUIRE(sum.load() == 2016);
  const double before = cpu_seconds();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double used = cpu_seconds() - before;
  // The whole process (caller asleep, workers idle) may only have spun for
  // about kSpinBudget per worker; a spinning worker would use ~0.3 s here.
  CHECK(used < 0.05);
}
