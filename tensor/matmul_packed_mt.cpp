// matmul_packed_mt.cpp: step e of the staircase, the packed GEMM on a team of
// threads (step d, matmul_packed.cpp, is the same loops on one thread).
//
// What it teaches: sharing a GEMM without a barrier. For each jc panel the
// team works through two counters (a tiny work queue): it packs the B panel
// together, a few slivers per task, then takes "units" of C (an ic block of
// whole MR tiles, cut into NR-sliver column blocks only when there are few
// rows) one at a time until none is left. Sharing the panel packs B once
// instead of once per thread; taking units one at a time keeps every thread
// busy to the end even when another program takes a core for a while: a
// thread that is not running simply takes fewer units. A unit owns whole C
// tiles and runs the whole pc loop in the same order whoever takes it, so
// each C element gets the same additions in the same order as in step d, for
// any thread count: bitwise identical results.
//
// The team comes from the pool (tensor/parallel.h); waits for claimed work
// follow its policy (spin briefly, then sleep).
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include <algorithm>
#include <atomic>
#include <span>
#include <vector>

#include "tensor/matmul_internal.h"
#include "tensor/matmul_packed.h"
#include "tensor/matmul_packing.h"
#include "tensor/parallel.h"
#include "tensor/threads.h"

namespace cpurich {
namespace detail {
namespace {

// Below this many multiply-adds (~160^3, ~25 us on one core) waking a team
// costs more than it saves.
constexpr int64_t kMinParallelWork = int64_t{1} << 22;
// A team cuts each panel into >= 4 units per thread, so the last unit is a
// small part of any thread's work, and packs B 4 slivers (128 columns) per
// task: a row of B is then read 512 contiguous bytes at a time. Smaller units
// reuse each B sliver over fewer A slivers, which costs less than an idle
// core at the end.
constexpr int64_t kUnitsPerThread = 4;
constexpr int64_t kSliversPerTask = 4;

// Pack task `task` of the B panel for columns [jc, jc+nc): K block
// task / groups, slivers kSliversPerTask * (task % groups) onwards.
int64_t pack_groups(const Microkernel& mk, int64_t nc) {
  return ceil_div(ceil_div(nc, mk.nr), kSliversPerTask);
}
void pack_b_task(const GemmArgs& g, const Microkernel& mk, const Plan& pl, int64_t jc, int64_t nc,
                 int64_t task, float* b_pack) {
  const int64_t slivers = ceil_div(nc, mk.nr), groups = pack_groups(mk, nc);
  const int64_t pc = task / groups * pl.kc_max, kc = std::min(pl.kc_max, g.k - pc);
  float* block = b_pack + pl.block_offset(pc);
  const int64_t s0 = task % groups * kSliversPerTask;
  if (!pl.in_place) {
    const int64_t s1 = std::min(slivers, s0 + kSliversPerTask);
    pack_b_slivers(g, mk, pc, kc, jc, nc, s0, s1, block + s0 * mk.nr * kc);
  } else if (s0 == 0 && nc % mk.nr != 0) {  // in place: only the ragged last sliver
    pack_b_slivers(g, mk, pc, kc, jc, nc, slivers - 1, slivers, block);
  }
}

// How a jc panel (M x nc of C) is cut into work units for the team: blocks of
// whole MR tiles (at most kMC rows, so the unit's A block stays in L2) by
// blocks of whole NR slivers. Columns are cut only when there are too few
// row blocks.
struct Units {
  int64_t rows, cols;            // rows / columns per unit
  int64_t row_count, col_count;  // units down M and across the panel
};

Units split_units(int64_t m, int64_t nc, const Microkernel& mk, int nt) {
  const int64_t row_tiles = ceil_div(m, mk.mr), col_tiles = ceil_div(nc, mk.nr);
  // One thread: the biggest A blocks that fit L2. A team: >= kUnitsPerThread
  // units per thread, so the last ones are small next to the whole.
  const int64_t want = nt == 1 ? 1 : kUnitsPerThread * nt;
  const int64_t min_row_count = ceil_div(row_tiles, std::max<int64_t>(1, kMC / mk.mr));
  const int64_t tiles = ceil_div(row_tiles, std::min(row_tiles, std::max(min_row_count, want)));
  const int64_t row_count = ceil_div(row_tiles, tiles);
  const int64_t slivers = ceil_div(col_tiles, std::min(col_tiles, ceil_div(want, row_count)));
  return Units{.rows = tiles * mk.mr,
               .cols = slivers * mk.nr,
               .row_count = row_count,
               .col_count = ceil_div(col_tiles, slivers)};
}

// One unit: C[ic:+mc, jc+j0:+ncu] over all of K (the pc loop, then the ic
// block's jr and ir loops in macro_kernel), in the same order whoever
// computes it.
void compute_unit(const GemmArgs& g, const Microkernel& mk, const Plan& pl, const float* b_pack,
                  int64_t jc, int64_t nc, const Units& u, int64_t unit, float* a_pack) {
  const int64_t ic = unit / u.col_count * u.rows, j0 = unit % u.col_count * u.cols;
  const int64_t mc = std::min(u.rows, g.m - ic), ncu = std::min(u.cols, nc - j0);
  for (int64_t pc = 0; pc < g.k; pc += pl.kc_max) {  // pc loop
    const int64_t kc = std::min(pl.kc_max, g.k - pc);
    const float* block = b_pack + pl.block_offset(pc);
    pack_a(g, mk, ic, mc, pc, kc, a_pack);
    const BPanel bp{pl.in_place ? block : block + j0 * kc, pl.in_place, g.b + pc * g.ldb + jc + j0,
                    g.ldb};
    macro_kernel(g, mk, ic, mc, jc + j0, ncu, kc, a_pack, bp, pc == 0 ? g.beta : 1.0f);
  }
}

// How far the team is with one jc panel. Counters only grow: a thread claims
// the next pack task / unit with `next_*` and reports it finished in
// `*_done`. A thread waits only for claimed work to be finished, never for
// another thread to show up, so a thread the OS has not started yet (the
// other core is busy) holds nobody up: the running ones take all the work.
struct PanelProgress {
  std::atomic<int64_t> next_task{0}, tasks_done{0}, next_unit{0}, units_done{0};
};

// Reports one finished piece of work; release: whoever sees the count also
// sees the packed data or C tiles behind it.
void finish(std::atomic<int64_t>& count) {
  count.fetch_add(1, std::memory_order_release);
  count.notify_all();  // no system call unless a thread sleeps on it
}

// The jc loop, run by every member of the team: pack a panel together, wait
// until it is all packed, then take its units (the ic loop) one at a time.
// The next panel overwrites the buffer only once every unit is finished.
void team_gemm(const GemmArgs& g, const Microkernel& mk, const Plan& pl, int nt,
               std::span<PanelProgress> progress, float* b_pack, float* a_pack) {
  int64_t prev_units = 0;                                        // units of the previous panel
  for (int64_t jc = 0, j = 0; jc < g.n; jc += pl.nc_max, ++j) {  // jc loop
    const int64_t nc = std::min(pl.nc_max, g.n - jc);
    const Units u = split_units(g.m, nc, mk, nt);
    const int64_t tasks = pl.k_blocks * pack_groups(mk, nc), units = u.row_count * u.col_count;
    PanelProgress& pp = progress[j];
    if (j > 0) wait_at_least(progress[j - 1].units_done, prev_units);
    for (int64_t t; (t = pp.next_task.fetch_add(1)) < tasks;) {
      pack_b_task(g, mk, pl, jc, nc, t, b_pack);
      finish(pp.tasks_done);
    }
    wait_at_least(pp.tasks_done, tasks);
    for (int64_t unit; (unit = pp.next_unit.fetch_add(1)) < units;) {  // ic loop
      compute_unit(g, mk, pl, b_pack, jc, nc, u, unit, a_pack);
      finish(pp.units_done);
    }
    prev_units = units;
  }
}

}  // namespace

void packed_gemm(const GemmArgs& g, const Microkernel& mk, int threads) {
  check_gemm_args(g, "matmul_packed");
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return scale_c_by_beta(g);  // an empty sum: C = beta * C
  const int width = std::min(std::max(threads, 1), parallel_width());
  if (g.m == 1 || g.n == 1) return skinny_gemm(g, width);
  // A small product, or a call from inside a parallel region: step d.
  if (width == 1 || g.m * g.n * g.k < kMinParallelWork) return packed_gemm_one_thread(g, mk);
  const Plan pl = make_plan(g, mk);
  const Units first = split_units(g.m, std::min(pl.nc_max, g.n), mk, width);
  const int team = static_cast<int>(std::min<int64_t>(width, first.row_count * first.col_count));
  if (team == 1) return packed_gemm_one_thread(g, mk);
  // All scratch memory is taken here, before the team starts: the packed B
  // panel and one 64-byte aligned A block per member.
  float* b_pack = b_buffer(pl.block_offset(g.k - 1) + pl.kc_max * pl.width());
  const int64_t a_floats = a_block_floats(pl, mk);
  float* a_all = a_buffers(team * a_floats);
  std::vector<PanelProgress> progress(static_cast<size_t>(ceil_div(g.n, pl.nc_max)));
  run_team(team, [&](int member) {
    team_gemm(g, mk, pl, width, progress, b_pack, a_all + member * a_floats);
  });
}

}  // namespace detail

void matmul_packed_mt(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), num_threads());
}

}  // namespace cpurich
