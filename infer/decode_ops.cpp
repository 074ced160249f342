// decode_ops.cpp: LayerNorm and single-query attention (see decode_ops.h).
#include "infer/decode_ops.h"

#include <cmath>

namespace cpurich {

void layernorm_row(const float* x, const float* w, const float* b, int64_t C, float eps, float* y) {
  float mean = 0.0f;
  for (int64_t c = 0; c < C; ++c) mean += x[c];
  mean /= static_cast<float>(C);
  float var = 0.0f;
  for (int64_t c = 0; c < C; ++c) var += (x[c] - mean) * (x[c] - mean);
  var /= static_cast<float>(C);
  const float rstd = 1.0f / std::sqrt(var + eps);
  for (int64_t c = 0; c < C; ++c) y[c] = (x[c] - mean) * rstd * w[c] + b[c];
}

void attend(const float* q, const float* keys, const float* values, int64_t n, int64_t d,
            float* scores, float* out) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  // Scores, and their max so exp() never overflows (softmax is shift-invariant).
  float mx = -INFINITY;
  for (int64_t j = 0; j < n; ++j) {
    const float* k = keys + j * d;
    float s = 0.0f;
    for (int64_t i = 0; i < d; ++i) s += q[i] * k[i];
    scores[j] = s * scale;
    mx = scores[j] > mx ? scores[j] : mx;
  }
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    scores[j] = std::exp(scores[j] - mx);
    sum += scores[j];
  }
  const float inv = 1.0f / sum;
  for (int64_t i = 0; i < d; ++i) out[i] = 0.0f;
  for (int64_t j = 0; j < n; ++j) {  // out += p_j v_j, one cached row at a time
    const float p = scores[j] * inv;
    const float* v = values + j * d;
    for (int64_t i = 0; i < d; ++i) out[i] += p * v[i];
  }
}

}  // namespace cpurich
