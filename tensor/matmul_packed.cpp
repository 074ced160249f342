// matmul_packed.cpp: steps d and e of the staircase, the BLIS-style GEMM.
//
// What it teaches: the five loops of BLIS around a register-blocked microkernel.
//   for jc in 0..N step NC           a thread's B panel (K x NC) lives in L3:
//     pack op(B)[:, jc:+NC]          NR-wide slivers, one set per KC block
//     for ic in 0..M step MC
//       for pc in 0..K step KC       the same order for every C element
//         pack op(A)[ic:+MC, pc:+KC] into MR-tall slivers (L2)
//         for jr in 0..NC step NR    one B sliver (KC x NR) ...
//           for ir in 0..MC step MR  ... is reused by every A sliver
//             microkernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A_sliver @ B_sliver
// (Classic BLIS runs pc outside ic and shares one packed B panel between
// threads; packing the whole K x NC panel per thread instead lets each thread
// run without ever waiting for another, which matters on a busy 2-core laptop.)
// Packing copies each block once into exactly the order the microkernel reads
// it (so all its loads are contiguous, and transposes cost nothing afterwards),
// zero-padding the edges up to MR / NR; edge tiles of C are masked. The first
// KC block applies the caller's beta, later ones add to C (beta = 1).
//
// Threads (packed_mt) split the output tiles: a grid of `tm` row groups
// (whole MR tiles) by `tn` column groups (whole NR slivers). A thread owns
// whole C tiles, and the pc loop (the K order) is the same for every thread
// count, so each C element gets the same additions in the same order: bitwise
// identical results.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include "tensor/matmul_packed.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <memory>
#include <new>

#include "tensor/matmul_internal.h"
#include "tensor/threads.h"

namespace cpurich {
namespace detail {
namespace {

// Block sizes (floats), tuned on a Zen 5 core (L1 48 KiB, L2 1 MiB, L3 32 MiB)
// with the 14x32 AVX-512 kernel: an A sliver is MR*KC*4 = 28 KiB (L1), a B
// sliver KC*NR*4 = 64 KiB (L2, streamed), an A block MC*KC*4 = 672 KiB (L2),
// and each thread's B panel (K x NC) is capped at 4 MiB (L3). KC = 256 / 384
// and MC = 112..672 were within ~5% of this on a busy machine.
constexpr int64_t kKC = 512;
constexpr int64_t kMC = 336;
constexpr int64_t kPanelFloats = int64_t{1} << 20;
// Below this many multiply-adds (~160^3, ~25 us on one core) waking a thread
// team costs more than it saves, and a busy machine makes it worse.
constexpr int64_t kMinParallelWork = int64_t{1} << 22;

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

// Each thread's packed A block and B panel, reused across calls.
float* thread_local_a_buffer(int64_t count) {
  thread_local ScratchBuffer buffer;
  return buffer.get(count);
}
float* thread_local_b_buffer(int64_t count) {
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

// Sliver s of a B panel: dst[p*NR + j] = op(B)(pc+p, jc+s*NR+j), columns past
// the edge are zero. dst is (kc, NR).
void pack_b_sliver(const GemmArgs& g, const Microkernel& mk, int64_t pc, int64_t kc, int64_t jc,
                   int64_t nc, int64_t s, float* dst) {
  const int64_t nr = mk.nr, j0 = s * nr, cols = std::min(nr, nc - j0);
  if (!g.trans_b) {  // rows of B are already NR-contiguous: a copy
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = g.b + (pc + p) * g.ldb + jc + j0;
      for (int64_t j = 0; j < nr; ++j) dst[p * nr + j] = j < cols ? src[j] : 0.0f;
    }
  } else if (mk.pack_b_cols != nullptr) {  // a SIMD transpose
    mk.pack_b_cols(g.b + (jc + j0) * g.ldb + pc, g.ldb, cols, kc, dst);
  } else {  // the same transpose, one element at a time
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j = 0; j < nr; ++j)
        dst[p * nr + j] = j < cols ? g.b[(jc + j0 + j) * g.ldb + pc + p] : 0.0f;
  }
}

// One thread's share of C: rows [i_begin, i_end) x columns [j_begin, j_end),
// both starting on a tile boundary (multiples of MR / NR). The thread packs
// the B panel and the A blocks it needs itself, so threads never wait for each
// other (no barrier inside the GEMM; only the team's start and end).
struct Share {
  int64_t i_begin, i_end, j_begin, j_end;
};

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
  for (int64_t jr = 0; jr < nc; jr += mk.nr) {  // jr loop: one B sliver stays in L1 ...
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

void compute_share(const GemmArgs& g, const Microkernel& mk, int64_t kc_max, const Share& sh) {
  const int64_t k_blocks = ceil_div(g.k, kc_max);
  // With few rows, B is used by at most two A slivers: packing it (read, write,
  // read again) costs more than reading it in place.
  const bool in_place = !g.trans_b && sh.i_end - sh.i_begin <= 2 * mk.mr;
  // Columns per jc step: the thread's B panel (K x nc) stays under kPanelFloats.
  const int64_t nc_max = std::max(mk.nr, kPanelFloats / (k_blocks * kc_max) / mk.nr * mk.nr);
  float* a_pack = thread_local_a_buffer(ceil_div(kMC, mk.mr) * mk.mr * kc_max);
  for (int64_t jc = sh.j_begin; jc < sh.j_end; jc += nc_max) {  // jc loop
    const int64_t nc = std::min(nc_max, sh.j_end - jc);
    const int64_t slivers = ceil_div(nc, mk.nr);
    const int64_t panel = in_place ? mk.nr : slivers * mk.nr;  // floats per K row of b_pack
    float* b_pack = thread_local_b_buffer(k_blocks * kc_max * panel);
    for (int64_t pc = 0; pc < g.k; pc += kc_max) {  // pack the K x nc panel once
      const int64_t kc = std::min(kc_max, g.k - pc);
      float* block = b_pack + (pc / kc_max) * kc_max * panel;
      if (!in_place) {
        for (int64_t s = 0; s < slivers; ++s)
          pack_b_sliver(g, mk, pc, kc, jc, nc, s, block + s * mk.nr * kc);
      } else if (nc % mk.nr != 0) {  // only the ragged last sliver
        pack_b_sliver(g, mk, pc, kc, jc, nc, slivers - 1, block);
      }
    }
    for (int64_t ic = sh.i_begin; ic < sh.i_end; ic += kMC) {  // ic loop
      const int64_t mc = std::min(kMC, sh.i_end - ic);
      for (int64_t pc = 0; pc < g.k; pc += kc_max) {  // pc loop: fixed order for every C
        const int64_t kc = std::min(kc_max, g.k - pc);
        pack_a(g, mk, ic, mc, pc, kc, a_pack);
        const BPanel bp{b_pack + (pc / kc_max) * kc_max * panel, in_place, g.b + pc * g.ldb + jc,
                        g.ldb};
        // The first K block applies the caller's beta, later ones add to C.
        macro_kernel(g, mk, ic, mc, jc, nc, kc, a_pack, bp, pc == 0 ? g.beta : 1.0f);
      }
    }
  }
}

// Splits nt threads into a tm x tn grid (row groups x column groups). Every
// thread packs its own rows of A (M/tm x K) and columns of B (K x N/tn), so
// pick the grid with the least packing per thread, M/tm + N/tn.
void thread_grid(int64_t m, int64_t n, const Microkernel& mk, int nt, int64_t& tm, int64_t& tn) {
  tm = 1;
  tn = 1;
  double best = 1e300;
  for (int64_t cols = 1; cols <= nt; ++cols) {
    if (nt % cols != 0) continue;
    const int64_t rows = nt / cols;
    if (cols > ceil_div(n, mk.nr) || rows > ceil_div(m, mk.mr)) continue;  // idle threads
    const double cost = double(m) / rows + double(n) / cols;
    if (cost < best) {
      best = cost;
      tm = rows;
      tn = cols;
    }
  }
}

}  // namespace

void packed_gemm(const GemmArgs& g, const Microkernel& mk, int threads) {
  check_gemm_args(g, "matmul_packed");
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return scale_c_by_beta(g);  // an empty sum: C = beta * C
  if (g.m == 1 || g.n == 1) return skinny_gemm(g, threads);
  // Equal KC blocks (K=384 -> 2 x 192, not 256 + 128). They depend on K only,
  // never on the thread count: that is what keeps results bitwise stable.
  const int64_t kc_max = ceil_div(g.k, ceil_div(g.k, kKC));
  const int nt = g.m * g.n * g.k < kMinParallelWork ? 1 : std::max(threads, 1);
  int64_t tm = 1, tn = 1;
  thread_grid(g.m, g.n, mk, nt, tm, tn);
  const int64_t row_tiles = ceil_div(g.m, mk.mr), col_tiles = ceil_div(g.n, mk.nr);
  const int team_size = static_cast<int>(tm * tn);
  std::exception_ptr error;
#pragma omp parallel num_threads(team_size) if (team_size > 1)
  {
    // Usually one share per thread; a smaller team (e.g. when called inside
    // another parallel region, where OpenMP gives us one thread) takes several.
    const int team = omp_get_num_threads();
    for (int64_t share = omp_get_thread_num(); share < tm * tn; share += team) {
      const int64_t r = share / tn, c = share % tn;
      // Whole tiles per share, as even as possible.
      const Share sh{std::min(g.m, row_tiles * r / tm * mk.mr),
                     std::min(g.m, row_tiles * (r + 1) / tm * mk.mr),
                     std::min(g.n, col_tiles * c / tn * mk.nr),
                     std::min(g.n, col_tiles * (c + 1) / tn * mk.nr)};
      try {  // an exception must not escape an OpenMP region (bad_alloc of a buffer)
        compute_share(g, mk, kc_max, sh);
      } catch (...) {
#pragma omp critical(cpurich_packed_error)
        error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace detail

void matmul_packed(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), 1);
}

void matmul_packed_mt(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), num_threads());
}

}  // namespace cpurich
