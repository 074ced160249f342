// matmul_packing.cpp: packing and the micro-loops shared by steps d and e of
// the GEMM staircase (see matmul_packing.h).
#include "tensor/matmul_packing.h"

#include <cstdlib>
#include <memory>
#include <new>

#include "tensor/matmul_internal.h"

namespace cpurich::detail {
namespace {

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

}  // namespace

float* a_buffers(int64_t count) {
  thread_local ScratchBuffer buffer;
  return buffer.get(count);
}
float* b_buffer(int64_t count) {
  thread_local ScratchBuffer buffer;
  return buffer.get(count);
}

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

int64_t a_block_floats(const Plan& pl, const Microkernel& mk) {
  return ceil_div(ceil_div(kMC, mk.mr) * mk.mr * pl.kc_max, 16) * 16;
}

}  // namespace cpurich::detail
