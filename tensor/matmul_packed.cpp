// matmul_packed.cpp: steps d and e of the staircase, the BLIS-style GEMM.
//
// What it teaches: the five loops of BLIS around a register-blocked microkernel.
//   for jc in 0..N step NC           the B panel (K x NC) lives in L3:
//     pack op(B)[:, jc:+NC]          NR-wide slivers, one set per KC block
//     for ic in 0..M step MC
//       for pc in 0..K step KC       the same order for every C element
//         pack op(A)[ic:+MC, pc:+KC] into MR-tall slivers (L2)
//         for jr in 0..NC step NR    one B sliver (KC x NR) ...
//           for ir in 0..MC step MR  ... is reused by every A sliver
//             microkernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A_sliver @ B_sliver
// Packing copies each block once into exactly the order the microkernel reads
// it (so all its loads are contiguous, and transposes cost nothing afterwards),
// zero-padding the edges up to MR / NR; edge tiles of C are masked. The first
// KC block applies the caller's beta, later ones add to C (beta = 1).
//
// Threads (packed_mt) share the work of each jc step through two counters
// (a tiny work queue, no barrier): they pack the B panel together, a few
// slivers per task, then take "units" of C (an ic block of whole MR tiles,
// cut into NR-sliver column blocks only when there are few rows) one at a
// time until none is left. Sharing the panel packs B once instead of once
// per thread (at 1024^3 packing B is ~8% of the work); taking units one at a
// time keeps both cores busy to the end even when another program steals
// one of them for a while. A unit owns whole C tiles and runs the whole pc
// loop in the same order whoever takes it, so each C element gets the same
// additions in the same order for any thread count: bitwise identical results.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include "tensor/matmul_packed.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>
#include <new>
#include <span>
#include <thread>
#include <vector>

#include "tensor/matmul_internal.h"
#include "tensor/threads.h"

namespace cpurich {
namespace detail {
namespace {

// Block sizes (floats), tuned on a Zen 5 core (L1 48 KiB, L2 1 MiB, L3 32 MiB)
// with the 14x32 AVX-512 kernel: an A sliver is MR*KC*4 = 28 KiB (L1), a B
// sliver KC*NR*4 = 64 KiB (L2, streamed), an A block MC*KC*4 = 672 KiB (L2),
// and the shared B panel (K x NC) is capped at 4 MiB (L3). KC = 256 / 384
// and MC = 112..672 were within ~5% of this on a busy machine. A team cuts
// M into smaller units (at 1024 rows and 2 threads, 8 units of 140 rows):
// each B sliver is then reused by 10 A slivers instead of 19 (one thread:
// 4 units of 266 rows), which costs
// less than an idle core at the end.
constexpr int64_t kKC = 512;
constexpr int64_t kMC = 336;
constexpr int64_t kPanelFloats = int64_t{1} << 20;
// Below this many multiply-adds (~160^3, ~25 us on one core) waking a thread
// team costs more than it saves, and a busy machine makes it worse.
constexpr int64_t kMinParallelWork = int64_t{1} << 22;
// A team cuts each panel into >= 4 units per thread, so the last unit is a
// small part of any thread's work, and packs B 4 slivers (128 columns) per
// task: a row of B is then read 512 contiguous bytes at a time.
constexpr int64_t kUnitsPerThread = 4;
constexpr int64_t kSliversPerTask = 4;

// A growable 64-byte aligned scratch buffer, reused across calls so a GEMM
// does not allocate (and page-fault) megabytes every time.
class ScratchBuffer {
 public:
  float* get(int64_t count) {
    if (count > size_) {
      const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
      data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
      if (!data_) throw std::bad_alloc();
      size_ = count;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t size_ = 0;
};

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

// The caller's packed B panel and its team's A blocks, reused across calls.
// Allocated before the thread team starts, so a bad_alloc is thrown in the
// caller and never inside an OpenMP region.
float* a_buffers(int64_t count) {
  thread_local ScratchBuffer buffer;
  return buffer.get(count);
}
float* b_buffer(int64_t count) {
  thread_local ScratchBuffer buffer;
  return buffer.get(count);
}

// a_pack <- op(A)[ic:ic+mc, pc:pc+kc] as MR-row slivers; sliver s holds rows
// ic+s*MR.. and is stored column by column: a_pack[s*MR*kc + p*MR + i].
// Rows past the edge are zero, so the microkernel never needs to branch.
void pack_a(const GemmArgs& g, const Microkernel& mk, int64_t ic, int64_t mc, int64_t pc,
            int64_t kc, float* a_pack) {
  const int64_t mr = mk.mr;
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int64_t rows = std::min(mr, mc - ir);
    float* dst = a_pack + ir * kc;  // dst is (kc, MR)
    if (g.trans_a) {                // stored A^T is (K,M): each p gives MR contiguous values
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = g.a + (pc + p) * g.lda + ic + ir;
        for (int64_t i = 0; i < mr; ++i) dst[p * mr + i] = i < rows ? src[i] : 0.0f;
      }
    } else if (mk.pack_a_rows != nullptr) {  // a SIMD transpose
      mk.pack_a_rows(g.a + (ic + ir) * g.lda + pc, g.lda, rows, kc, dst);
    } else {  // the same transpose, one element at a time
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t i = 0; i < mr; ++i)
          dst[p * mr + i] = i < rows ? g.a[(ic + ir + i) * g.lda + pc + p] : 0.0f;
    }
  }
}

// Slivers [s0, s1) of the (pc, jc) block of the B panel: sliver s at
// first + (s-s0)*NR*kc holds dst[p*NR + j] = op(B)(pc+p, jc+s*NR+j), columns past
// the edge zero. Untransposed B is copied row by row, each row of B read
// left to right once: walking one sliver down K instead would jump 4*ldb
// bytes per step, and with ldb = 1024 every such line falls in the same L1 set.
void pack_b_slivers(const GemmArgs& g, const Microkernel& mk, int64_t pc, int64_t kc, int64_t jc,
                    int64_t nc, int64_t s0, int64_t s1, float* first) {
  const int64_t nr = mk.nr;
  if (g.trans_b) {  // stored B^T rows are B's columns: transpose NR of them at a time
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t cols = std::min(nr, nc - s * nr);
      float* dst = first + (s - s0) * nr * kc;  // dst is (kc, NR)
      if (mk.pack_b_cols != nullptr) {
        mk.pack_b_cols(g.b + (jc + s * nr) * g.ldb + pc, g.ldb, cols, kc, dst);
        continue;
      }
      for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = 0; j < nr; ++j)
          dst[p * nr + j] = j < cols ? g.b[(jc + s * nr + j) * g.ldb + pc + p] : 0.0f;
    }
    return;
  }
  for (int64_t p = 0; p < kc; ++p) {
    const float* src = g.b + (pc + p) * g.ldb + jc;
    for (int64_t s = s0; s < s1; ++s) {
      const int64_t cols = std::min(nr, nc - s * nr);
      float* dst = first + (s - s0) * nr * kc + p * nr;
      std::copy_n(src + s * nr, cols, dst);
      std::fill(dst + cols, dst + nr, 0.0f);
    }
  }
}

// Where the B slivers of one (pc, jc) step live. Packed: sliver s at
// packed + s*NR*kc, rows NR apart. In place (small M, untransposed B): full
// slivers are read straight from B (rows ldb apart) and only a ragged last
// sliver is packed, at `packed`.
struct BPanel {
  const float* packed;
  bool in_place;
  const float* b;  // op(B)(pc, jc) when in place
  int64_t ldb;
};

// The micro-loops: C[ic:+mc, jc:+nc] (+)= A block (packed) @ B panel.
void macro_kernel(const GemmArgs& g, const Microkernel& mk, int64_t ic, int64_t mc, int64_t jc,
                  int64_t nc, int64_t kc, const float* a_pack, const BPanel& bp, float beta) {
  for (int64_t jr = 0; jr < nc; jr += mk.nr) {  // jr loop: one B sliver stays in L1/L2 ...
    const int64_t cols = std::min(mk.nr, nc - jr);
    const bool direct = bp.in_place && cols == mk.nr;
    const float* b_sliver = direct ? bp.b + jr : bp.in_place ? bp.packed : bp.packed + jr * kc;
    const int64_t b_stride = direct ? bp.ldb : mk.nr;
    for (int64_t ir = 0; ir < mc; ir += mk.mr) {  // ir loop: ... while A slivers stream by
      const CTile tile{g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, std::min(mk.mr, mc - ir), cols};
      mk.fn(kc, a_pack + ir * kc, b_sliver, b_stride, tile, g.alpha, beta);
    }
  }
}

// The fixed shape of one GEMM: how K is blocked, how wide a B panel is, and
// whether B is packed at all. It depends on the shapes only, never on the
// thread count: that is what keeps results bitwise stable.
struct Plan {
  int64_t kc_max;  // equal KC blocks (K=384 -> 2 x 192, not 256 + 128)
  int64_t k_blocks;
  int64_t nc_max;  // columns per jc step: the B panel (K x nc) <= kPanelFloats
  bool in_place;   // few rows: B is used by at most two A slivers, read it in place
  int64_t nr;      // the microkernel's sliver width
  // Floats per K row of the packed panel (one ragged sliver when in place).
  int64_t width() const { return in_place ? nr : nc_max; }
  // Where the packed slivers of the K block starting at pc begin.
  int64_t block_offset(int64_t pc) const { return pc / kc_max * kc_max * width(); }
};

Plan make_plan(const GemmArgs& g, const Microkernel& mk) {
  Plan pl{};
  pl.kc_max = ceil_div(g.k, ceil_div(g.k, kKC));
  pl.k_blocks = ceil_div(g.k, pl.kc_max);
  const int64_t k_floats = pl.k_blocks * pl.kc_max;
  pl.nc_max =
      std::min(ceil_div(g.n, mk.nr), std::max<int64_t>(1, kPanelFloats / k_floats / mk.nr)) * mk.nr;
  // Packing costs a read, a write and a read again; with <= 2 A slivers the
  // copy is never paid back.
  pl.in_place = !g.trans_b && g.m <= 2 * mk.mr;
  pl.nr = mk.nr;
  return pl;
}

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
// blocks of whole NR slivers. Threads take units one at a time, so a thread
// slowed down by another program does less of them instead of making the
// team wait. Columns are cut only when there are too few row blocks.
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
  return {tiles * mk.mr, slivers * mk.nr, row_count, ceil_div(col_tiles, slivers)};
}

// One unit: C[ic:+mc, jc+j0:+ncu] over all of K. The pc loop runs in the same
// order whoever computes the unit: each C element gets its K products in
// the order p = 0..K-1. The first K block applies the caller's beta, later
// ones add to C (beta = 1).
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

void wait_until(const std::atomic<int64_t>& count, int64_t target) {
  // acquire: once we see the count, we also see the packed data behind it.
  while (count.load(std::memory_order_acquire) < target) std::this_thread::yield();
}

// The jc loop, run by every thread of the team: pack a panel together, wait
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
    if (j > 0) wait_until(progress[j - 1].units_done, prev_units);
    for (int64_t t; (t = pp.next_task.fetch_add(1)) < tasks;) {
      pack_b_task(g, mk, pl, jc, nc, t, b_pack);
      pp.tasks_done.fetch_add(1, std::memory_order_release);
    }
    wait_until(pp.tasks_done, tasks);
    for (int64_t unit; (unit = pp.next_unit.fetch_add(1)) < units;) {  // ic loop
      compute_unit(g, mk, pl, b_pack, jc, nc, u, unit, a_pack);
      pp.units_done.fetch_add(1, std::memory_order_release);
    }
    prev_units = units;
  }
}

}  // namespace

void packed_gemm(const GemmArgs& g, const Microkernel& mk, int threads) {
  check_gemm_args(g, "matmul_packed");
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return scale_c_by_beta(g);  // an empty sum: C = beta * C
  if (g.m == 1 || g.n == 1) return skinny_gemm(g, threads);
  const Plan pl = make_plan(g, mk);
  const int nt = g.m * g.n * g.k < kMinParallelWork ? 1 : std::max(threads, 1);
  const Units first = split_units(g.m, std::min(pl.nc_max, g.n), mk, nt);
  const int team = static_cast<int>(std::min<int64_t>(nt, first.row_count * first.col_count));
  // All scratch memory is taken here, outside the team: the packed B panel
  // and one 64-byte aligned A block per thread.
  float* b_pack = b_buffer(pl.block_offset(g.k - 1) + pl.kc_max * pl.width());
  const int64_t a_floats = ceil_div(ceil_div(kMC, mk.mr) * mk.mr * pl.kc_max, 16) * 16;
  float* a_all = a_buffers(team * a_floats);
  std::vector<PanelProgress> progress(static_cast<size_t>(ceil_div(g.n, pl.nc_max)));
  // A one-thread GEMM opens no OpenMP region: even an `if (false)` region
  // costs a team set-up and, nested inside another region (one attention head
  // per thread), a futex system call, which is more than a 64 x 64 GEMM.
  if (team == 1) return team_gemm(g, mk, pl, nt, progress, b_pack, a_all);
  // Usually `team` threads; inside another parallel region OpenMP gives us
  // one, which then simply takes every unit.
#pragma omp parallel num_threads(team)
  team_gemm(g, mk, pl, nt, progress, b_pack, a_all + omp_get_thread_num() * a_floats);
}

}  // namespace detail

void matmul_packed(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), 1);
}

void matmul_packed_mt(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), num_threads());
}

}  // namespace cpurich
