// autograd/ops.h: differentiable operations on Var. Each op's backward sits
// right under its forward in the matching .cpp, with its derivation.
//
// Every op accepts F32 and F64 values (F64 is what gradcheck uses) and throws
// ShapeError naming the shapes on mismatch.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "autograd/var.h"
#include "tensor/quant_formats.h"
#include "tensor/rng.h"

namespace cpurich::ag {

// ---- linear algebra ------------------------------------------------------------
/// a (..., M, K) @ b (..., K, N) -> (..., M, N), op() = transpose if trans_*.
Var matmul(const Var& a, const Var& b, bool trans_a = false, bool trans_b = false);
/// x (..., IN) @ w (IN, OUT) + bias (OUT) -> (..., OUT). The weight is stored
/// (IN, OUT) like Hugging Face GPT-2's Conv1D. bias may be undefined (no bias).
Var linear(const Var& x, const Var& w, const Var& bias);
/// linear(x, w, bias) + scale * (xa (..., IN) @ a^T (IN, r)) @ b^T (r, OUT) -> (..., OUT):
/// a Linear with a LoRA adapter, a (r, IN), b (OUT, r); xa is the adapter's
/// input (x, or x after dropout). Fused in f32: no (..., OUT) temporaries.
Var linear_lora(const Var& x, const Var& xa, const Var& w, const Var& bias, const Var& a,
                const Var& b, double scale);
/// linear_lora with the frozen base held only as NF4: w_nf4 (OUT, IN) is
/// W^T quantized (QLoRA). x (..., IN) -> (..., OUT) =
///   x dequant(w_nf4)^T + bias + scale * (xa a^T) b^T.
/// W is decoded panel by panel inside the GEMMs (tensor/matmul_nf4.h), in the
/// forward and in dx = dy W^T; it gets no gradient. Gradients flow to x, xa,
/// bias (if it requires one), a and b. f64 (gradcheck) composes the same
/// formula from a decoded copy of W.
Var linear_nf4_lora(const Var& x, const Var& xa, std::shared_ptr<const QuantMatrix> w_nf4,
                    const Var& bias, const Var& a, const Var& b, double scale);

// ---- elementwise, NumPy broadcasting ------------------------------------------
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
Var add_scalar(const Var& a, double s);
Var mul_scalar(const Var& a, double s);
Var gelu(const Var& x);  ///< tanh approximation, as GPT-2
Var silu(const Var& x);  ///< x * sigmoid(x), for SwiGLU

// ---- reductions ------------------------------------------------------------------
Var sum(const Var& a, int64_t axis, bool keepdim = false);
Var mean(const Var& a, int64_t axis, bool keepdim = false);
Var sum_all(const Var& a);
Var mean_all(const Var& a);

// ---- views (backward routes the gradient back through the same view) -------------
Var reshape(const Var& a, const Shape& shape);
Var transpose(const Var& a, int64_t d0, int64_t d1);
Var slice(const Var& a, int64_t axis, int64_t start, int64_t stop, int64_t step = 1);

// ---- model building blocks ---------------------------------------------------------
/// weight (V, C), ids (N) with values in [0, V) -> (N, C); reshape after.
/// Throws std::out_of_range naming the bad id. Backward: scatter-add rows.
Var embedding(const Var& weight, std::span<const int32_t> ids);
/// Normalises the last axis: (x - mean) / sqrt(var + eps) * w + b.
Var layer_norm(const Var& x, const Var& w, const Var& b, double eps = 1e-5);
/// x / sqrt(mean(x^2) + eps) * w over the last axis (Llama).
Var rms_norm(const Var& x, const Var& w, double eps = 1e-5);
/// Softmax over the last axis.
Var softmax(const Var& x);
/// q, k, v (B, H, T, D) -> (B, H, T, D): softmax(q k^T / sqrt(D) + mask) v,
/// with the causal mask (query t sees keys 0..t) when causal.
Var scaled_dot_product_attention(const Var& q, const Var& k, const Var& v, bool causal = true);
/// GPT-2's fused form: qkv (B, T, 3C) as [q | k | v], n_head heads of C/n_head
/// dims -> causal attention output (B, T, C) with heads concatenated.
Var causal_self_attention(const Var& qkv, int64_t n_head);
/// Mean cross-entropy of logits (N, V) (or (B, T, V)) against targets (N);
/// targets equal to ignore_index are skipped (prompt tokens in fine-tuning).
/// Throws if every target is ignored or a target is out of [0, V).
Var cross_entropy(const Var& logits, std::span<const int32_t> targets, int32_t ignore_index = -1);
/// Zeros each element with probability p and scales survivors by 1/(1-p),
/// drawing from rng; the identity when !training or p == 0.
Var dropout(const Var& x, double p, Rng& rng, bool training);

}  // namespace cpurich::ag
