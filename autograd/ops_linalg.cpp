// ops_linalg.cpp: matmul and linear with their backward passes.
//
// What it teaches: the gradient of a matrix product is two more matrix
// products. For C = A @ B and an upstream gradient dC:
//     dA = dC @ B^T        dB = A^T @ dC
// (check the shapes: (M,N)@(N,K) = (M,K) and (K,M)@(M,N) = (K,N)). Transposes
// are never materialised: the GEMM reads the same buffer with trans flags, and
// beta = 1 makes it add straight into the parameter's gradient buffer.
//
// Pipeline position: every Linear layer of the GPT and the tied LM head.
#include <algorithm>
#include <stdexcept>

#include "autograd/ops.h"
#include "autograd/ops_internal.h"
#include "tensor/matmul.h"
#include "tensor/matmul_nf4.h"
#include "tensor/ops.h"
#include "tensor/parallel.h"

namespace cpurich::ag {
using namespace detail;

namespace {

// C (m,n) (+)= op(A) @ op(B) in f32 through the fast GEMM; a, b row-major
// with leading dimensions equal to their stored row length.
void gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
              float beta, float* c) {
  gemm(GemmArgs{.trans_a = ta,
                .trans_b = tb,
                .m = m,
                .n = n,
                .k = k,
                .a = a,
                .lda = ta ? m : k,
                .b = b,
                .ldb = tb ? k : n,
                .beta = beta,
                .c = c,
                .ldc = n});
}

// C (m,n) (+)= A^T @ B with A (k,m), B (k,n) row-major and k large: the
// weight gradient dW = x^T @ dy, summed over k = B*T tokens. Why in chunks of
// kTokenChunk rows: the GEMM keeps a (k, nc) panel of B per thread, capped at
// a few MiB, so k = 16384 leaves nc = 64 columns, and all of A is re-packed for
// each 64-column panel. Chunks of 1024 rows keep the panels wide. 1024 is a
// multiple of the GEMM's 512-deep K blocks, so each C element still receives
// the same additions in the same order (chunk after chunk, beta = 1).
void gemm_at_b_chunked(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float beta,
                       float* c) {
  constexpr int64_t kTokenChunk = 1024;
  if (k == 0) return gemm_f32(true, false, m, n, 0, a, b, beta, c);  // C = beta C
  for (int64_t k0 = 0; k0 < k; k0 += kTokenChunk) {
    const int64_t kc = std::min(kTokenChunk, k - k0);
    gemm_f32(true, false, m, n, kc, a + k0 * m, b + k0 * n, k0 == 0 ? beta : 1.0f, c);
  }
}

// The f32 fast path applies when the right operand is one shared 2-D matrix
// and the left one is not transposed: then all leading dims of a fold into M.
bool matmul_fast_path(const Tensor& a, const Tensor& b, bool trans_a) {
  return a.dtype() == DType::F32 && b.dtype() == DType::F32 && b.dim() == 2 && a.dim() >= 2 &&
         !trans_a;
}

}  // namespace

// ---- matmul ---------------------------------------------------------------------------
// C = op(A) @ op(B). With dop(A) = dC @ op(B)^T and dop(B) = op(A)^T @ dC:
//   !trans_a: dA = dC @ op(B)^T             trans_a: dA = (dop A)^T = op(B) @ dC^T
//   !trans_b: dB = op(A)^T @ dC             trans_b: dB = (dop B)^T = dC^T @ op(A)
// Broadcast batch dims are summed back with sum_to_shape.
Var matmul(const Var& a, const Var& b, bool trans_a, bool trans_b) {
  check_defined(a, "matmul");
  check_defined(b, "matmul");
  check_same_dtype(a.value(), b.value(), "matmul");
  ProfileScope prof(OpClass::Matmul, false);
  if (matmul_fast_path(a.value(), b.value(), trans_a)) {
    const Tensor A = a.value().contiguous();  // (..., M, K)
    const Tensor B = b.value().contiguous();  // (K, N) or (N, K) when trans_b
    const int64_t K = A.size(-1);
    const int64_t N = trans_b ? B.size(0) : B.size(1);
    if ((trans_b ? B.size(1) : B.size(0)) != K)
      throw ShapeError("matmul: shape mismatch " + shape_str(A.shape()) + " @ " +
                       shape_str(B.shape()) + (trans_b ? "^T" : ""));
    const int64_t M = A.numel() / K;
    Shape out_shape = A.shape();
    out_shape.back() = N;
    Tensor C = Tensor::uninitialized(out_shape, DType::F32);  // (..., M, N)
    gemm_f32(false, trans_b, M, N, K, A.data_f32(), B.data_f32(), 0.0f, C.data_f32());
    return make_op_result(C, {a, b}, "matmul", [A, B, M, N, K, trans_b](Node& self) {
      const float* dC = self.grad.data_f32();  // (M, N)
      // beta = 0 writes a fresh (uninitialised) gradient, beta = 1 adds to it.
      if (const GradOut dA = grad_output(self.parents[0]); dA.grad)  // (M, K) += dC @ op(B)^T
        gemm_f32(false, !trans_b, M, K, N, dC, B.data_f32(), dA.fresh ? 0.0f : 1.0f,
                 dA.grad->data_f32());
      if (const GradOut dB = grad_output(self.parents[1]); dB.grad) {
        const float beta = dB.fresh ? 0.0f : 1.0f;
        if (!trans_b)  // (K, N) += A^T @ dC
          gemm_at_b_chunked(K, N, M, A.data_f32(), dC, beta, dB.grad->data_f32());
        else  // (N, K) += dC^T @ A
          gemm_at_b_chunked(N, K, M, dC, A.data_f32(), beta, dB.grad->data_f32());
      }
    });
  }
  const Tensor A = a.value(), B = b.value();
  Tensor C = cpurich::matmul(A, B, trans_a, trans_b);
  return make_op_result(C, {a, b}, "matmul", [A, B, trans_a, trans_b](Node& self) {
    const Tensor& dC = self.grad;
    if (self.parents[0].requires_grad()) {
      Tensor dA =
          trans_a ? cpurich::matmul(B, dC, trans_b, true) : cpurich::matmul(dC, B, false, !trans_b);
      accumulate_grad_owned(self.parents[0], sum_to_shape(dA, A.shape()));
    }
    if (self.parents[1].requires_grad()) {
      Tensor dB =
          trans_b ? cpurich::matmul(dC, A, true, trans_a) : cpurich::matmul(A, dC, !trans_a, false);
      accumulate_grad_owned(self.parents[1], sum_to_shape(dB, B.shape()));
    }
  });
}

// ---- linear ---------------------------------------------------------------------------
// y = x @ W + b with x (N, IN) (leading dims folded into N), W (IN, OUT), b (OUT).
//   dx = dy @ W^T        dW = x^T @ dy        db = sum over rows of dy
// In f32 each is one GEMM (trans flags, beta = 1 into the grad buffers) and db
// is a column sum done by one thread per column chunk, rows in order.
namespace {

void check_linear_shapes(const Tensor& x, const Tensor& w, const Var& bias) {
  if (w.dim() != 2 || x.dim() < 1 || x.size(-1) != w.size(0))
    throw ShapeError("linear: shape mismatch x " + shape_str(x.shape()) + " @ weight " +
                     shape_str(w.shape()));
  if (bias.defined() && (bias.value().dim() != 1 || bias.value().size(0) != w.size(1)))
    throw ShapeError("linear: bias " + shape_str(bias.value().shape()) + " for weight " +
                     shape_str(w.shape()));
}

// db (OUT) += column sums of dy (N, OUT); parallel over column chunks only.
void bias_grad_f32(const float* dy, int64_t N, int64_t OUT, float* db) {
  constexpr int64_t kChunk = 64;
  const int64_t chunks = (OUT + kChunk - 1) / kChunk;
  parallel_for_if(N * OUT > kParallelMin, 0, chunks, [&](int64_t c) {
    const int64_t j0 = c * kChunk, j1 = std::min(OUT, j0 + kChunk);
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = j0; j < j1; ++j) db[j] += dy[i * OUT + j];
  });
}

Var linear_f32(const Var& x, const Var& w, const Var& bias) {
  const Tensor X = x.value().contiguous();  // (N, IN)
  const Tensor W = w.value().contiguous();  // (IN, OUT)
  const int64_t IN = W.size(0), OUT = W.size(1), N = X.numel() / IN;
  Shape out_shape = X.shape();
  out_shape.back() = OUT;
  Tensor Y = Tensor::uninitialized(out_shape, DType::F32);  // (N, OUT)
  float* y = Y.data_f32();
  float beta = 0.0f;
  if (bias.defined()) {  // start every row at b, then the GEMM adds x @ W on top
    const Tensor bv = bias.value().contiguous();
    const float* b = bv.data_f32();
    parallel_for_if(N * OUT > kParallelMin, 0, N, [&](int64_t i) {
      for (int64_t j = 0; j < OUT; ++j) y[i * OUT + j] = b[j];
    });
    beta = 1.0f;
  }
  gemm_f32(false, false, N, OUT, IN, X.data_f32(), W.data_f32(), beta, y);
  std::vector<Var> parents{x, w};
  if (bias.defined()) parents.push_back(bias);
  return make_op_result(Y, std::move(parents), "linear", [X, W, N, IN, OUT](Node& self) {
    const float* dy = self.grad.data_f32();  // (N, OUT)
    // beta = 0 writes a fresh (uninitialised) gradient, beta = 1 adds to it.
    if (const GradOut dx = grad_output(self.parents[0]); dx.grad)  // (N, IN) += dy @ W^T
      gemm_f32(false, true, N, IN, OUT, dy, W.data_f32(), dx.fresh ? 0.0f : 1.0f,
               dx.grad->data_f32());
    if (const GradOut dW = grad_output(self.parents[1]); dW.grad)  // (IN, OUT) += x^T @ dy
      gemm_at_b_chunked(IN, OUT, N, X.data_f32(), dy, dW.fresh ? 0.0f : 1.0f, dW.grad->data_f32());
    if (self.parents.size() > 2)
      if (Tensor* db = grad_accumulator(self.parents[2])) bias_grad_f32(dy, N, OUT, db->data_f32());
  });
}

// The f64 version (gradcheck) goes through the tensor-level ops.
Var linear_generic(const Var& x, const Var& w, const Var& bias) {
  const Tensor X = x.value(), W = w.value();
  const int64_t IN = W.size(0), OUT = W.size(1);
  const Tensor X2 = X.reshape({-1, IN});
  Tensor Y2 = cpurich::matmul(X2, W);
  if (bias.defined()) Y2 = cpurich::add(Y2, bias.value());
  Shape out_shape = X.shape();
  out_shape.back() = OUT;
  std::vector<Var> parents{x, w};
  if (bias.defined()) parents.push_back(bias);
  return make_op_result(
      Y2.reshape(out_shape), std::move(parents), "linear", [X, X2, W, OUT](Node& self) {
        const Tensor dy = self.grad.reshape({-1, OUT});
        if (self.parents[0].requires_grad())
          accumulate_grad_owned(self.parents[0],
                                cpurich::matmul(dy, W, false, true).reshape(X.shape()));
        if (self.parents[1].requires_grad())
          accumulate_grad_owned(self.parents[1], cpurich::matmul(X2, dy, true, false));
        if (self.parents.size() > 2) accumulate_grad_owned(self.parents[2], cpurich::sum(dy, 0));
      });
}

// ---- linear with a low-rank (LoRA) term ------------------------------------------
//   y = x W + b + s (xa A^T) B^T,   xa = x or dropout(x) (the adapter's input)
// Fused: the low-rank product is added into y's buffer by the GEMM (beta = 1)
// instead of living as two more (N, OUT) activations, and backward keeps only
// u = s xa A^T (N, r):
//   dx  += dy W^T            dW += x^T dy          db += colsum(dy)
//   g    = s dy B  (N, r)    dxa += g A            dA += g^T xa      dB += dy^T u
Var linear_lora_f32(const Var& x, const Var& xa, const Var& w, const Var& bias, const Var& a,
                    const Var& b, float s) {
  const Tensor Xa = xa.value().contiguous();  // (N, IN)
  const Tensor A = a.value().contiguous();    // (r, IN)
  const Tensor B = b.value().contiguous();    // (OUT, r)
  const int64_t IN = A.size(1), R = A.size(0), OUT = B.size(0), N = Xa.numel() / IN;
  const Var y = linear_f32(x, w, bias);  // (N, OUT): x W + b, with its own backward
  Tensor U = Tensor::uninitialized({N, R}, DType::F32);
  gemm_f32(false, true, N, R, IN, Xa.data_f32(), A.data_f32(), 0.0f, U.data_f32());  // xa A^T
  float* u = U.data_f32();
  for (int64_t i = 0; i < N * R; ++i) u[i] *= s;
  Tensor Y = y.value();  // the low-rank term is added in place: y's backward does not read y
  gemm_f32(false, true, N, OUT, R, u, B.data_f32(), 1.0f, Y.data_f32());  // += u B^T
  return make_op_result(
      Y, {y, xa, a, b}, "linear_lora", [Xa, A, B, U, s, N, IN, R, OUT](Node& self) {
        const float* dy = self.grad.data_f32();                // (N, OUT)
        Tensor G = Tensor::uninitialized({N, R}, DType::F32);  // g = s dy B
        gemm_f32(false, false, N, R, OUT, dy, B.data_f32(), 0.0f, G.data_f32());
        float* g = G.data_f32();
        for (int64_t i = 0; i < N * R; ++i) g[i] *= s;
        if (const GradOut dxa = grad_output(self.parents[1]); dxa.grad)  // (N, IN) += g A
          gemm_f32(false, false, N, IN, R, g, A.data_f32(), dxa.fresh ? 0.0f : 1.0f,
                   dxa.grad->data_f32());
        if (const GradOut dA = grad_output(self.parents[2]); dA.grad)  // (r, IN) += g^T xa
          gemm_at_b_chunked(R, IN, N, g, Xa.data_f32(), dA.fresh ? 0.0f : 1.0f,
                            dA.grad->data_f32());
        if (const GradOut dB = grad_output(self.parents[3]); dB.grad)  // (OUT, r) += dy^T u
          gemm_at_b_chunked(OUT, R, N, dy, U.data_f32(), dB.fresh ? 0.0f : 1.0f,
                            dB.grad->data_f32());
        accumulate_grad_owned(self.parents[0], std::move(self.grad));  // x W + b gets dy as is
      });
}

// ---- linear on an NF4 base with a LoRA term (QLoRA) -------------------------------
//   y = x W + b + s (xa A^T) B^T,   W (IN, OUT) = dequant(Q)^T, Q (OUT, IN) NF4
// The base term is the NF4 GEMM (panels of Q decoded into one small buffer,
// tensor/matmul_nf4.h); W is frozen, so backward needs only its input
// gradient, dx += dy Q (the same panels), never x^T dy. The adapter's terms
// are those of linear_lora_f32, with u = s xa A^T (N, r) kept for dB.
Var linear_nf4_lora_f32(const Var& x, const Var& xa, std::shared_ptr<const QuantMatrix> q,
                        const Var& bias, const Var& a, const Var& b, float s) {
  const Tensor X = x.value().contiguous();    // (N, IN)
  const Tensor Xa = xa.value().contiguous();  // (N, IN)
  const Tensor A = a.value().contiguous();    // (r, IN)
  const Tensor B = b.value().contiguous();    // (OUT, r)
  const int64_t IN = q->cols, OUT = q->rows, R = A.size(0), N = X.numel() / IN;
  Shape out_shape = X.shape();
  out_shape.back() = OUT;
  Tensor Y = Tensor::uninitialized(out_shape, DType::F32);  // (N, OUT)
  float* y = Y.data_f32();
  float beta = 0.0f;
  if (bias.defined()) {  // every row starts at b; the NF4 GEMM adds x W on top
    const Tensor bv = bias.value().contiguous();
    const float* bp = bv.data_f32();
    parallel_for_if(N * OUT > kParallelMin, 0, N, [&](int64_t i) {
      for (int64_t j = 0; j < OUT; ++j) y[i * OUT + j] = bp[j];
    });
    beta = 1.0f;
  }
  nf4_matmul_xwt(*q, X.data_f32(), N, beta, y);  // (N, OUT) (+)= x Q^T
  Tensor U = Tensor::uninitialized({N, R}, DType::F32);
  gemm_f32(false, true, N, R, IN, Xa.data_f32(), A.data_f32(), 0.0f, U.data_f32());  // xa A^T
  float* u = U.data_f32();
  for (int64_t i = 0; i < N * R; ++i) u[i] *= s;
  gemm_f32(false, true, N, OUT, R, u, B.data_f32(), 1.0f, y);  // += u B^T
  std::vector<Var> parents{x, xa, a, b};
  if (bias.defined()) parents.push_back(bias);
  return make_op_result(
      Y, std::move(parents), "linear_nf4_lora",
      [q = std::move(q), Xa, A, B, U, s, N, IN, R, OUT](Node& self) {
        const float* dy = self.grad.data_f32();                        // (N, OUT)
        if (const GradOut dx = grad_output(self.parents[0]); dx.grad)  // (N, IN) += dy Q
          nf4_matmul_dyw(*q, dy, N, dx.fresh ? 0.0f : 1.0f, dx.grad->data_f32());
        Tensor G = Tensor::uninitialized({N, R}, DType::F32);  // g = s dy B
        gemm_f32(false, false, N, R, OUT, dy, B.data_f32(), 0.0f, G.data_f32());
        float* g = G.data_f32();
        for (int64_t i = 0; i < N * R; ++i) g[i] *= s;
        if (const GradOut dxa = grad_output(self.parents[1]); dxa.grad)  // (N, IN) += g A
          gemm_f32(false, false, N, IN, R, g, A.data_f32(), dxa.fresh ? 0.0f : 1.0f,
                   dxa.grad->data_f32());
        if (const GradOut dA = grad_output(self.parents[2]); dA.grad)  // (r, IN) += g^T xa
          gemm_at_b_chunked(R, IN, N, g, Xa.data_f32(), dA.fresh ? 0.0f : 1.0f,
                            dA.grad->data_f32());
        if (const GradOut dB = grad_output(self.parents[3]); dB.grad)  // (OUT, r) += dy^T u
          gemm_at_b_chunked(OUT, R, N, dy, U.data_f32(), dB.fresh ? 0.0f : 1.0f,
                            dB.grad->data_f32());
        if (self.parents.size() > 4)
          if (Tensor* db = grad_accumulator(self.parents[4]))
            bias_grad_f32(dy, N, OUT, db->data_f32());
      });
}

}  // namespace

Var linear(const Var& x, const Var& w, const Var& bias) {
  check_defined(x, "linear");
  check_defined(w, "linear");
  check_same_dtype(x.value(), w.value(), "linear");
  if (bias.defined()) check_same_dtype(x.value(), bias.value(), "linear");
  check_linear_shapes(x.value(), w.value(), bias);
  ProfileScope prof(OpClass::Matmul, false);
  if (x.value().dtype() == DType::F32) return linear_f32(x, w, bias);
  return linear_generic(x, w, bias);
}

Var linear_lora(const Var& x, const Var& xa, const Var& w, const Var& bias, const Var& a,
                const Var& b, double scale) {
  check_defined(xa, "linear_lora");
  check_defined(a, "linear_lora");
  check_defined(b, "linear_lora");
  check_linear_shapes(x.value(), w.value(), bias);
  const int64_t IN = w.value().size(0), OUT = w.value().size(1);
  if (xa.value().shape() != x.value().shape() || a.value().dim() != 2 || b.value().dim() != 2 ||
      a.value().size(1) != IN || b.value().size(0) != OUT || b.value().size(1) != a.value().size(0))
    throw ShapeError("linear_lora: A " + shape_str(a.value().shape()) + " and B " +
                     shape_str(b.value().shape()) + " do not fit weight " +
                     shape_str(w.value().shape()));
  for (const Var* v : {&xa, &a, &b}) check_same_dtype(x.value(), v->value(), "linear_lora");
  if (x.value().dtype() == DType::F32) {
    ProfileScope prof(OpClass::Matmul, false);
    return linear_lora_f32(x, xa, w, bias, a, b, static_cast<float>(scale));
  }
  // f64 (gradcheck): the unfused composition of the same formula.
  return add(linear(x, w, bias),
             matmul(mul_scalar(matmul(xa, a, false, true), scale), b, false, true));
}

Var linear_nf4_lora(const Var& x, const Var& xa, std::shared_ptr<const QuantMatrix> w_nf4,
                    const Var& bias, const Var& a, const Var& b, double scale) {
  for (const Var* v : {&x, &xa, &a, &b}) check_defined(*v, "linear_nf4_lora");
  if (!w_nf4 || w_nf4->format != QuantFormat::NF4)
    throw std::invalid_argument("linear_nf4_lora: the base weight must be an NF4 matrix");
  const int64_t IN = w_nf4->cols, OUT = w_nf4->rows;
  const Tensor& X = x.value();
  if (X.dim() < 1 || X.size(-1) != IN || xa.value().shape() != X.shape() || a.value().dim() != 2 ||
      b.value().dim() != 2 || a.value().size(1) != IN || b.value().size(0) != OUT ||
      b.value().size(1) != a.value().size(0) ||
      (bias.defined() && (bias.value().dim() != 1 || bias.value().size(0) != OUT)))
    throw ShapeError("linear_nf4_lora: x " + shape_str(X.shape()) + ", A " +
                     shape_str(a.value().shape()) + ", B " + shape_str(b.value().shape()) +
                     " do not fit the NF4 weight (" + std::to_string(OUT) + ", " +
                     std::to_string(IN) + ")");
  for (const Var* v : {&xa, &a, &b}) check_same_dtype(X, v->value(), "linear_nf4_lora");
  if (bias.defined()) check_same_dtype(X, bias.value(), "linear_nf4_lora");
  if (X.dtype() == DType::F32) {
    ProfileScope prof(OpClass::Matmul, false);
    return linear_nf4_lora_f32(x, xa, std::move(w_nf4), bias, a, b, static_cast<float>(scale));
  }
  // f64 (gradcheck): W decoded whole into a constant, then linear_lora's formula.
  std::vector<float> wt(static_cast<size_t>(OUT * IN));  // (OUT, IN)
  dequantize_matrix(*w_nf4, wt);
  const Var w(Tensor::from_vector(wt, {OUT, IN}).to(X.dtype()).transpose(0, 1).contiguous(),
              false);  // (IN, OUT)
  return linear_lora(x, xa, w, bias, a, b, scale);
}

}  // namespace cpurich::ag
