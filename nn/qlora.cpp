// qlora.cpp: an NF4 base under LoRA adapters (see qlora.h).
#include "nn/qlora.h"

#include <cmath>
#include <memory>
#include <stdexcept>
#include <vector>

#include "nn/layers.h"
#include "nn/loftq.h"
#include "tensor/quant_formats.h"

namespace cpurich {

NamedParameters add_qlora(GPT& model, const LoraOptions& options, const QLoraOptions& qoptions,
                          QLoraStats* stats) {
  if (model.dtype() != DType::F32) throw std::invalid_argument("qlora: the model must be f32");
  if (qoptions.loftq_iters < 0) throw std::invalid_argument("qlora: loftq iterations must be >= 0");
  for (const auto& [name, lin] : model.linear_modules())
    if (lora_target_matches(name, options.targets) && lin->weight.value().size(0) % kNF4Block != 0)
      throw std::invalid_argument("qlora: " + name + " has " +
                                  std::to_string(lin->weight.value().size(0)) +
                                  " inputs, not a multiple of NF4's block of 64");
  add_lora(model, options);
  QLoraStats st;
  double err_sq = 0.0, w_sq = 0.0;
  uint64_t k = 0;
  for (const auto& [name, lin] : model.linear_modules()) {
    ++k;
    if (!lin->lora) continue;
    const Tensor w = lin->weight.value().contiguous();  // (in, out)
    const int64_t in = w.size(0), out = w.size(1), r = options.rank;
    std::vector<float> wt(static_cast<size_t>(out * in));  // W^T (out, in): blocks run along in
    const float* wp = w.data_f32();
    for (int64_t c = 0; c < in; ++c)
      for (int64_t o = 0; o < out; ++o) wt[o * in + c] = wp[c * out + o];
    LoraAdapter& ad = *lin->lora;
    QuantMatrix q;
    if (qoptions.loftq_iters > 0) {
      LoftqInit init = loftq_init(wt, out, in, r, ad.scale, qoptions.loftq_iters,
                                  hash64(options.seed, 1000 + k));
      q = std::move(init.q);
      ad.A = Var(Tensor::from_vector(init.a, {r, in}), true);
      ad.B = Var(Tensor::from_vector(init.b, {out, r}), true);
    } else {
      q = quantize_matrix(QuantFormat::NF4, wt, out, in);
    }
    const Tensor a = ad.A.value().contiguous(), b = ad.B.value().contiguous();
    const double e = qlora_init_error(wt, q, {a.data_f32(), static_cast<size_t>(a.numel())},
                                      {b.data_f32(), static_cast<size_t>(b.numel())}, r, ad.scale);
    err_sq += e * e;
    for (float v : wt) w_sq += static_cast<double>(v) * v;
    st.base_weights += out * in;
    st.base_bytes += static_cast<int64_t>(q.data.size());
    lin->weight_nf4 = std::make_shared<const QuantMatrix>(std::move(q));
    lin->weight = Var();  // the f32 base is released: only the NF4 bytes remain
  }
  st.init_error = std::sqrt(err_sq);
  st.weight_norm = std::sqrt(w_sq);
  if (stats) *stats = st;
  return lora_parameters(model);
}

}  // namespace cpurich
