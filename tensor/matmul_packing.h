// matmul_packing.h: what steps d and e of the GEMM staircase share (see
// matmul_packed.cpp for step d, matmul_packed_mt.cpp for step e).
//
// What it teaches: packing. Before the microkernel multiplies an MR x KC
// sliver of A by a KC x NR sliver of B, both are copied once into exactly the
// order the microkernel reads them, so all its loads are contiguous and a
// transposed operand costs nothing afterwards. Edges are zero-padded up to MR
// / NR, so the microkernel never branches; edge tiles of C are masked.
//
// Pipeline position: tensors -> [matmul] -> every Linear layer of the model.
#pragma once

#include <algorithm>
#include <cstdint>

#include "tensor/matmul.h"
#include "tensor/matmul_microkernel.h"

namespace cpurich::detail {

// Block sizes (floats) for a core with ~48 KiB L1, ~1 MiB L2 and a shared L3,
// with the 14x32 AVX-512 kernel: an A sliver is MR*KC*4 = 28 KiB (L1), a B
// sliver KC*NR*4 = 64 KiB (L2, streamed), an A block MC*KC*4 = 672 KiB (L2),
// and a packed B panel (K x NC) is capped at 4 MiB (L3).
inline constexpr int64_t kKC = 512;
inline constexpr int64_t kMC = 336;
inline constexpr int64_t kPanelFloats = int64_t{1} << 20;

inline int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

/// This thread's 64-byte aligned scratch for packed A blocks / the packed B
/// panel, grown on demand and reused across calls (no per-call allocation).
float* a_buffers(int64_t count);
float* b_buffer(int64_t count);

/// a_pack (mc/MR slivers of (kc, MR)) <- op(A)[ic:+mc, pc:+kc]; sliver s holds
/// rows ic+s*MR.. column by column: a_pack[s*MR*kc + p*MR + i]; rows past the
/// edge are zero.
void pack_a(const GemmArgs& g, const Microkernel& mk, int64_t ic, int64_t mc, int64_t pc,
            int64_t kc, float* a_pack);

/// Slivers [s0, s1) of op(B)[pc:+kc, jc:+nc]: sliver s at first + (s-s0)*NR*kc
/// is (kc, NR), dst[p*NR + j] = op(B)(pc+p, jc+s*NR+j), columns past the edge zero.
void pack_b_slivers(const GemmArgs& g, const Microkernel& mk, int64_t pc, int64_t kc, int64_t jc,
                    int64_t nc, int64_t s0, int64_t s1, float* first);

/// Where the B slivers of one (pc, jc) block live. Packed: sliver s at
/// packed + s*NR*kc, rows NR apart. In place (small M, untransposed B): full
/// slivers are read straight from B (rows ldb apart) and only a ragged last
/// sliver is packed, at `packed`.
struct BPanel {
  const float* packed;
  bool in_place;
  const float* b;  // op(B)(pc, jc) when in place
  int64_t ldb;
};

/// The two micro-loops (jr, ir): C[ic:+mc, jc:+nc] = alpha * A block (packed,
/// (mc, kc)) @ B block (kc, nc) + beta * C.
void macro_kernel(const GemmArgs& g, const Microkernel& mk, int64_t ic, int64_t mc, int64_t jc,
                  int64_t nc, int64_t kc, const float* a_pack, const BPanel& bp, float beta);

/// The fixed shape of one GEMM: how K is blocked, how wide a B panel is, and
/// whether B is packed at all. It depends on the shapes only, never on the
/// thread count: each C element gets its K blocks in the order pc = 0, KC, ..
/// whatever runs it, which is what keeps results bitwise stable.
struct Plan {
  int64_t kc_max;    // equal KC blocks (K=384 -> 2 x 192, not 256 + 128)
  int64_t k_blocks;  // ceil(K / kc_max)
  int64_t nc_max;    // columns per jc step: the B panel (K x nc) <= kPanelFloats
  bool in_place;     // few rows: B is used by at most two A slivers, read it in place
  int64_t nr;        // the microkernel's sliver width
  /// Floats per K row of the packed panel (one ragged sliver when in place).
  int64_t width() const { return in_place ? nr : nc_max; }
  /// Where the packed slivers of the K block starting at pc begin.
  int64_t block_offset(int64_t pc) const { return pc / kc_max * kc_max * width(); }
};

Plan make_plan(const GemmArgs& g, const Microkernel& mk);

/// Floats of one thread's A block: kMC rows (whole MR tiles) by kc_max, a
/// multiple of 16 so consecutive blocks stay 64-byte aligned.
int64_t a_block_floats(const Plan& pl, const Microkernel& mk);

}  // namespace cpurich::detail
