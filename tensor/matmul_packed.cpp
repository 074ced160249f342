// matmul_packed.cpp: step d of the staircase, the BLIS-style GEMM on one thread.
//
// What it teaches: the five loops of BLIS around a register-blocked
// microkernel, each sized so that what it reuses stays in one cache level:
//   jc  N in steps of NC        a B panel (K x NC) stays in L3
//   pc  K in steps of KC        pack op(B)[pc:+KC, jc:+NC] into NR-wide slivers
//   ic  M in steps of MC        pack op(A)[ic:+MC, pc:+KC] into MR-tall slivers (L2)
//   jr  NC in steps of NR       one B sliver (KC x NR) stays in L1/L2 ...
//   ir  MC in steps of MR       ... while every A sliver streams past it
//       microkernel: C[ic+ir:+MR, jc+jr:+NR] (+)= A sliver @ B sliver
// Packing (matmul_packing.h) copies each block once into exactly the order
// the microkernel reads it. The first KC block applies the caller's beta,
// later ones add to C (beta = 1), so each C element gets its K products in
// the order p = 0..K-1. Step e (matmul_packed_mt.cpp) shares these loops
// between threads.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#include "tensor/matmul_packed.h"

#include <algorithm>

#include "tensor/matmul_internal.h"
#include "tensor/matmul_packing.h"

namespace cpurich {
namespace detail {
namespace {

// C = alpha * op(A) @ op(B) + beta * C with m, n, k > 0.
//! [blis_loops]
void blis_loops(const GemmArgs& g, const Microkernel& mk) {
  const Plan pl = make_plan(g, mk);
  const int64_t MR = mk.mr, NR = mk.nr, MC = kMC / MR * MR;
  float* b_pack = b_buffer(pl.kc_max * pl.width());   // one (KC, NC) block
  float* a_pack = a_buffers(a_block_floats(pl, mk));  // one (MC, KC) block
  for (int64_t jc = 0; jc < g.n; jc += pl.nc_max) {   // jc loop: B panel in L3
    const int64_t nc = std::min(pl.nc_max, g.n - jc), slivers = ceil_div(nc, NR);
    for (int64_t pc = 0; pc < g.k; pc += pl.kc_max) {  // pc loop: one K block
      const int64_t kc = std::min(pl.kc_max, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;
      if (!pl.in_place)  // all slivers; in place, only a ragged last one
        pack_b_slivers(g, mk, pc, kc, jc, nc, 0, slivers, b_pack);
      else if (nc % NR != 0)
        pack_b_slivers(g, mk, pc, kc, jc, nc, slivers - 1, slivers, b_pack);
      for (int64_t ic = 0; ic < g.m; ic += MC) {  // ic loop: A block in L2
        const int64_t mc = std::min(MC, g.m - ic);
        pack_a(g, mk, ic, mc, pc, kc, a_pack);
        for (int64_t jr = 0; jr < nc; jr += NR) {  // jr loop: a B sliver in L1/L2 ...
          const int64_t cols = std::min(NR, nc - jr);
          const bool direct = pl.in_place && cols == NR;  // read B where it is
          const float* b_sliver = direct        ? g.b + pc * g.ldb + jc + jr
                                  : pl.in_place ? b_pack
                                                : b_pack + jr * kc;
          const int64_t b_stride = direct ? g.ldb : NR;
          for (int64_t ir = 0; ir < mc; ir += MR) {  // ir loop: ... A slivers stream by
            const CTile tile{g.c + (ic + ir) * g.ldc + jc + jr, g.ldc, std::min(MR, mc - ir), cols};
            mk.fn(kc, a_pack + ir * kc, b_sliver, b_stride, tile, g.alpha, beta);
          }
        }
      }
    }
  }
}
//! [blis_loops]

}  // namespace

void packed_gemm_one_thread(const GemmArgs& g, const Microkernel& mk) {
  check_gemm_args(g, "matmul_packed");
  if (g.m == 0 || g.n == 0) return;
  if (g.k == 0) return scale_c_by_beta(g);  // an empty sum: C = beta * C
  if (g.m == 1 || g.n == 1) return skinny_gemm(g, 1);
  blis_loops(g, mk);
}

}  // namespace detail

void matmul_packed(const GemmArgs& g) {
  detail::packed_gemm_one_thread(g, detail::best_microkernel());
}

}  // namespace cpurich
