// attention_internal.h: one attention head as the kernels see it (not public).
//
// Two implementations share this view: the reference loops in
// ops_attention.cpp (float64, gradient checks) and the blocked GEMM version
// in ops_attention_gemm.cpp (float32, training). Tests compare the two.
#pragma once

#include <cstdint>

namespace cpurich::ag::detail {

/// Where one head's rows live: row t of q is q[t * in_stride .. + D), same for
/// k and v; row t of out (and dout) is out[t * out_stride ..]. The fused qkv
/// layout (B,T,3C) has in_stride = 3C and out_stride = C; the (B,H,T,D) layout
/// has in_stride = out_stride = D.
template <class T>
struct HeadView {
  const T* q;
  const T* k;
  const T* v;
  int64_t in_stride;
  int64_t out_stride;
  int64_t T_len;
  int64_t D;
  bool causal;
};

/// Floats of scratch head_backward_gemm needs: the (T, T) matrix dS.
int64_t head_backward_gemm_scratch(int64_t T_len);

/// out (T, D) rows = softmax(q k^T / sqrt(D)) v; att (T, T) receives the
/// probabilities p, with zeros above the diagonal when causal.
void head_forward_gemm(const HeadView<float>& h, float* out, float* att);

/// One head's gradients dq, dk, dv (rows h.in_stride apart), given dout (rows
/// h.out_stride apart) and the att saved by head_forward_gemm: added to the
/// buffers when beta = 1, written over them (uninitialised before) when beta = 0.
/// scratch holds head_backward_gemm_scratch(T) floats.
void head_backward_gemm(const HeadView<float>& h, const float* att, const float* dout, float* dq,
                        float* dk, float* dv, float* scratch, float beta);

}  // namespace cpurich::ag::detail
