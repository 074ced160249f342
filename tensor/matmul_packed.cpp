// matmul_packed.cpp: steps d and e of the staircase, the BLIS-style GEMM.
//
// What it teaches: the five loops of BLIS around a register-blocked microkernel.
//   for jc in 0..N step NC         B panel (KC x NC) lives in L3
//     for pc in 0..K step KC       pack op(B)[pc:+KC, jc:+NC] into NR-wide slivers
//       for ic in 0..M step MC     pack op(A)[ic:+MC, pc:+KC] into MR-tall slivers (L2)
//         for jr in 0..NC step NR  one B sliver (KC x NR) stays in L1 ...
//           for ir in 0..MC step MR   ... while MR-row A slivers stream past it
//             microkernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A_sliver @ B_sliver
// Packing copies each block once into exactly the order the microkernel reads
// it (so all its loads are contiguous, and transposes cost nothing afterwards),
// zero-padding the edges up to MR / NR so the microkernel never branches.
// The first KC block applies the caller's beta, later ones add to C (beta = 1).
//
// Threads (packed_mt): the team packs the B panel together, then splits the
// output tiles: the NR slivers of the panel into `tn` column groups and the MC
// blocks into `tm` row groups. A thread owns whole C tiles, and the pc loop
// (the K order) is the same for every thread count, so each C element gets
// the same additions in the same order: bitwise identical results.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

#include "tensor/matmul_internal.h"
#include "tensor/matmul_packed.h"
#include "tensor/threads.h"

namespace cpurich {
namespace detail {
namespace {

// Block sizes (floats). With the 14x32 AVX-512 kernel: a B sliver is
// KC*NR*4 = 32 KiB (L1 is 48 KiB), an A block MC*KC*4 = 168 KiB (L2 is 1 MiB),
// the B panel KC*NC*4 = 4 MiB (L3).
constexpr int64_t kKC = 256;
constexpr int64_t kMC = 168;
constexpr int64_t kNC = 4096;
// Below this many multiply-adds a thread team costs more than it saves.
constexpr int64_t kMinParallelWork = int64_t{1} << 19;

// A growable 64-byte aligned scratch buffer, reused across calls so a GEMM
// does not allocate (and page-fault) megabytes every time.
class ScratchBuffer {
 public:
  float* get(int64_t count) {
    if (count > size_) {
      const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
      data_.reset(static_cast<float*>(std::aligned_alloc(64, bytes)));
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

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Each thread's A block; the caller thread's B panel (shared with its team).
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
void pack_a(const GemmArgs& g, int64_t ic, int64_t mc, int64_t pc, int64_t kc, int64_t mr,
            float* a_pack) {
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int64_t rows = std::min(mr, mc - ir);
    float* dst = a_pack + ir * kc;  // dst is (kc, MR)
    for (int64_t p = 0; p < kc; ++p) {
      float* col = dst + p * mr;
      if (g.trans_a) {
        const float* src = g.a + (pc + p) * g.lda + ic + ir;  // contiguous in i
        for (int64_t i = 0; i < rows; ++i) col[i] = src[i];
      } else {
        const float* src = g.a + (ic + ir) * g.lda + pc + p;  // stride lda in i
        for (int64_t i = 0; i < rows; ++i) col[i] = src[i * g.lda];
      }
      for (int64_t i = rows; i < mr; ++i) col[i] = 0.0f;
    }
  }
}

// Sliver s of the B panel: b_pack[s*NR*kc + p*NR + j] = op(B)(pc+p, jc+s*NR+j).
void pack_b_sliver(const GemmArgs& g, int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t nr,
                   int64_t s, float* b_pack) {
  const int64_t j0 = s * nr, cols = std::min(nr, nc - j0);
  float* dst = b_pack + j0 * kc;  // dst is (kc, NR)
  if (!g.trans_b) {
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = g.b + (pc + p) * g.ldb + jc + j0;  // a row piece of B
      float* row = dst + p * nr;
      for (int64_t j = 0; j < cols; ++j) row[j] = src[j];
      for (int64_t j = cols; j < nr; ++j) row[j] = 0.0f;
    }
  } else {
    for (int64_t j = 0; j < cols; ++j) {
      const float* src = g.b + (jc + j0 + j) * g.ldb + pc;  // a row of stored B^T
      for (int64_t p = 0; p < kc; ++p) dst[p * nr + j] = src[p];
    }
    for (int64_t p = 0; p < kc; ++p)
      for (int64_t j = cols; j < nr; ++j) dst[p * nr + j] = 0.0f;
  }
}

// One C tile of rows x cols (<= MR x NR) at c. Full tiles go straight to the
// microkernel; edge tiles go through a local MR x NR tile, then the valid part
// is merged: C = tile + beta * C.
void run_tile(const Microkernel& mk, int64_t kc, const float* a_sliver, const float* b_sliver,
              float* c, int64_t ldc, int64_t rows, int64_t cols, float alpha, float beta) {
  if (rows == mk.mr && cols == mk.nr) {
    mk.fn(kc, a_sliver, b_sliver, c, ldc, alpha, beta);
    return;
  }
  alignas(64) float tile[16 * 64];  // large enough for every microkernel's MR x NR
  mk.fn(kc, a_sliver, b_sliver, tile, mk.nr, alpha, 0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) {
      float& out = c[i * ldc + j];
      out = beta == 0.0f ? tile[i * mk.nr + j] : tile[i * mk.nr + j] + beta * out;
    }
}

// Everything one thread does for one (jc, pc) step: its share of C tiles.
struct Step {
  int64_t jc, nc, pc, kc;
  float beta;             // g.beta on the first KC block, then 1
  const float* b_pack;    // the packed (kc x nc) panel, shared by the team
};

void compute_share(const GemmArgs& g, const Microkernel& mk, const Step& st, int tid, int nt,
                   float* a_pack) {
  const int64_t slivers = ceil_div(st.nc, mk.nr);
  const int64_t tn = std::min<int64_t>(nt, slivers);  // column groups
  const int64_t tm = nt / tn;                          // row groups
  if (tid >= tn * tm) return;
  const int64_t s0 = slivers * (tid % tn) / tn, s1 = slivers * (tid % tn + 1) / tn;
  const int64_t blocks_m = ceil_div(g.m, kMC);
  for (int64_t blk = tid / tn; blk < blocks_m; blk += tm) {
    const int64_t ic = blk * kMC, mc = std::min(kMC, g.m - ic);
    pack_a(g, ic, mc, st.pc, st.kc, mk.mr, a_pack);
    for (int64_t s = s0; s < s1; ++s) {  // jr loop
      const int64_t jr = s * mk.nr, cols = std::min(mk.nr, st.nc - jr);
      const float* b_sliver = st.b_pack + jr * st.kc;
      for (int64_t ir = 0; ir < mc; ir += mk.mr) {  // ir loop
        float* c = g.c + (ic + ir) * g.ldc + st.jc + jr;
        run_tile(mk, st.kc, a_pack + ir * st.kc, b_sliver, c, g.ldc, std::min(mk.mr, mc - ir),
                 cols, g.alpha, st.beta);
      }
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
  float* b_pack = thread_local_b_buffer(kc_max * ceil_div(std::min(g.n, kNC), mk.nr) * mk.nr);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int tid = omp_get_thread_num(), team = omp_get_num_threads();
    float* a_pack = thread_local_a_buffer(ceil_div(kMC, mk.mr) * mk.mr * kc_max);
    for (int64_t jc = 0; jc < g.n; jc += kNC) {
      const int64_t nc = std::min(kNC, g.n - jc);
      for (int64_t pc = 0; pc < g.k; pc += kc_max) {
        const int64_t kc = std::min(kc_max, g.k - pc);
#pragma omp for schedule(static)
        for (int64_t s = 0; s < ceil_div(nc, mk.nr); ++s)
          pack_b_sliver(g, pc, kc, jc, nc, mk.nr, s, b_pack);
        // (implicit barrier: the whole panel is packed before anyone reads it)
        compute_share(g, mk, Step{jc, nc, pc, kc, pc == 0 ? g.beta : 1.0f, b_pack}, tid, team,
                      a_pack);
#pragma omp barrier
      }
    }
  }
}

}  // namespace detail

void matmul_packed(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), 1);
}

void matmul_packed_mt(const GemmArgs& g) {
  detail::packed_gemm(g, detail::best_microkernel(), num_threads());
}

}  // namespace cpurich
