// gptq.cpp: GPTQ on the shared OBS sweep (see gptq.h, hessian.h).
#include "compress/gptq.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "compress/block_codec.h"
#include "compress/hessian.h"

namespace cpurich::compress {

//! [gptq]
QuantMatrix gptq_quantize(std::span<const double> w, int64_t out, int64_t in,
                          std::span<const double> h, const GptqOptions& o) {
  require_q4(o.format, "gptq");
  if (out < 1 || in < 1 || in % kQBlock != 0 || static_cast<int64_t>(w.size()) != out * in ||
      static_cast<int64_t>(h.size()) != in * in)
    throw std::invalid_argument("gptq: need W (out, in) and H (in, in) with in a multiple of 32");
  if (o.block_size < kQBlock || o.block_size % kQBlock != 0)
    throw std::invalid_argument("gptq: block size must be a positive multiple of 32");
  const int64_t nblk = in / kQBlock;

  // wt (in, out): row p is column perm[p] of W, so a column is contiguous.
  const std::vector<uint8_t> dead = dead_columns(h, in);
  std::vector<int64_t> perm(static_cast<size_t>(in));
  for (int64_t i = 0; i < in; ++i) perm[i] = i;
  if (o.act_order) perm = act_order(h, in);
  std::vector<double> wt(static_cast<size_t>(in * out));
  std::vector<double> hp(static_cast<size_t>(in * in));
  for (int64_t p = 0; p < in; ++p) {
    const int64_t c = perm[p];
    for (int64_t r = 0; r < out; ++r) wt[p * out + r] = dead[c] ? 0.0 : w[r * in + c];
    for (int64_t q = 0; q < in; ++q) hp[p * in + q] = h[c * in + perm[q]];
  }
  const std::vector<double> u = inverse_cholesky_upper(hp, in, o.damp);

  std::vector<BlockScale> scale(static_cast<size_t>(out * nblk));  // (out, nblk)
  std::vector<uint8_t> codes(static_cast<size_t>(out * in));       // (out, in)
  // Scales of block b for every row from the columns' current values;
  // `col(c)` is where original column c lives in wt.
  std::vector<int64_t> where(static_cast<size_t>(in));
  for (int64_t p = 0; p < in; ++p) where[perm[p]] = p;
  float v[kQBlock];
  const auto fix_scales = [&](int64_t b, std::span<const double> cur) {
    for (int64_t r = 0; r < out; ++r) {
      for (int64_t j = 0; j < kQBlock; ++j)
        v[j] = static_cast<float>(cur[where[b * kQBlock + j] * out + r]);
      scale[r * nblk + b] = q4_block_scale(o.format, v);
    }
  };
  const bool static_groups = o.static_groups || o.act_order;
  if (static_groups)
    for (int64_t b = 0; b < nblk; ++b) fix_scales(b, wt);

  const ColumnRule rule = [&](int64_t i, std::span<double> cur) {
    const int64_t c = perm[i], b = c / kQBlock;
    if (!static_groups && c % kQBlock == 0) fix_scales(b, cur);  // block's columns are current
    double* col = cur.data() + i * out;
    for (int64_t r = 0; r < out; ++r) {
      const BlockScale& s = scale[r * nblk + b];
      const uint8_t q = q4_code(o.format, s, static_cast<float>(col[r]));
      codes[r * in + c] = q;
      col[r] = q4_value(o.format, s, q);
    }
  };
  obs_sweep(wt, in, out, u, o.block_size, nullptr, rule);

  QuantMatrix qm{.format = o.format, .rows = out, .cols = in};
  qm.data.resize(static_cast<size_t>(quant_matrix_bytes(o.format, out, in)));
  const int64_t bb = quant_format_info(o.format).block_bytes;
  for (int64_t r = 0; r < out; ++r)
    for (int64_t b = 0; b < nblk; ++b)
      pack_q4_block(o.format, scale[r * nblk + b], codes.data() + r * in + b * kQBlock,
                    qm.data.data() + r * qm.row_bytes() + b * bb);
  return qm;
}
//! [gptq]

}  // namespace cpurich::compress
