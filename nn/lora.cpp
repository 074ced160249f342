// lora.cpp: attaching, running and merging LoRA adapters (see lora.h).
#include "nn/lora.h"

#include <cmath>
#include <stdexcept>

#include "autograd/ops.h"
#include "tensor/matmul.h"
#include "tensor/ops.h"

namespace cpurich {

void LoraOptions::validate() const {
  if (rank < 1) throw std::invalid_argument("lora: rank must be >= 1, got " + std::to_string(rank));
  if (!(alpha > 0.0) || !std::isfinite(alpha))
    throw std::invalid_argument("lora: alpha must be > 0, got " + std::to_string(alpha));
  if (!(dropout >= 0.0 && dropout < 1.0))
    throw std::invalid_argument("lora: dropout must be in [0, 1), got " + std::to_string(dropout));
  if (targets.empty()) throw std::invalid_argument("lora: no target modules");
}

double LoraOptions::scale() const {
  const auto r = static_cast<double>(rank);
  return rslora ? alpha / std::sqrt(r) : alpha / r;
}

LoraAdapter::LoraAdapter(int64_t in, int64_t out, const LoraOptions& options, DType dtype,
                         Rng& init_rng, uint64_t dropout_seed)
    : scale(options.scale()), dropout(options.dropout), dropout_rng_(dropout_seed) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(in));
  A = Var(init_rng.uniform({options.rank, in}, -bound, bound, dtype), true);
  B = Var(Tensor::zeros({out, options.rank}, dtype), true);
}

Var LoraAdapter::forward(const Var& x, bool training) {
  // The scale multiplies the narrow (..., r) product, not the (..., out) one:
  // r << out, so that is one small tensor instead of a second full-width
  // activation kept for backward.
  const Var xa =
      ag::matmul(input(x, training), A, false, true);  // (..., in) @ A^T (in, r) -> (..., r)
  const Var xas = ag::mul_scalar(xa, scale);           // (..., r)
  return ag::matmul(xas, B, false, true);              // (..., r) @ B^T (r, out) -> (..., out)
}

Var LoraAdapter::input(const Var& x, bool training) {
  const DropoutContext drop{dropout, &dropout_rng_, training};
  return drop(x);
}

Tensor LoraAdapter::delta() const {
  // (A^T B^T) (in, out) = (B A)^T: A (r, in) read transposed, B (out, r) read transposed.
  return mul_scalar(matmul(A.value(), B.value(), true, true), scale);
}

bool lora_target_matches(const std::string& module, const std::vector<std::string>& targets) {
  for (const std::string& t : targets) {
    if (module == t) return true;
    if (module.size() > t.size() && module.compare(module.size() - t.size(), t.size(), t) == 0 &&
        module[module.size() - t.size() - 1] == '.')
      return true;
  }
  return false;
}

NamedParameters add_lora(GPT& model, const LoraOptions& options) {
  options.validate();
  auto linears = model.linear_modules();
  for (const auto& [name, lin] : linears)
    if (lin->lora) throw std::invalid_argument("lora: " + name + " already has an adapter");
  for (const std::string& t : options.targets) {
    bool found = false;
    for (const auto& [name, lin] : linears) found = found || lora_target_matches(name, {t});
    if (!found)
      throw std::invalid_argument("lora: target '" + t +
                                  "' matches no layer (GPT-2's are c_attn, c_proj, c_fc, "
                                  "attn.c_proj, mlp.c_proj)");
  }
  model.visit_parameters("", [](const std::string&, Var& p) { p = Var(p.value(), false); });
  Rng init_rng(options.seed);
  uint64_t k = 0;
  for (const auto& [name, lin] : linears) {
    ++k;
    if (!lora_target_matches(name, options.targets)) continue;
    const Tensor& w = lin->weight.value();  // (in, out)
    if (options.rank > std::min(w.size(0), w.size(1)))
      throw std::invalid_argument("lora: rank " + std::to_string(options.rank) +
                                  " exceeds the smaller side of " + name + " (" +
                                  std::to_string(std::min(w.size(0), w.size(1))) + ")");
    lin->lora = std::make_shared<LoraAdapter>(w.size(0), w.size(1), options, model.dtype(),
                                              init_rng, hash64(options.seed, k));
  }
  return lora_parameters(model);
}

NamedParameters lora_parameters(GPT& model) {
  NamedParameters out;
  for (const auto& [name, lin] : model.linear_modules()) {
    if (!lin->lora) continue;
    out.emplace_back(name + ".lora_A.weight", lin->lora->A);
    out.emplace_back(name + ".lora_B.weight", lin->lora->B);
  }
  return out;
}

std::vector<std::string> lora_modules(GPT& model) {
  std::vector<std::string> out;
  for (const auto& [name, lin] : model.linear_modules())
    if (lin->lora) out.push_back(name);
  return out;
}

void merge_lora(GPT& model) {
  for (const auto& [name, lin] : model.linear_modules()) {
    if (!lin->lora) continue;
    if (lin->weight_nf4)
      throw std::invalid_argument("lora: " + name +
                                  " has an NF4 base (QLoRA); merge the adapter into the f32 base");
    const bool trainable = lin->weight.requires_grad();
    lin->weight = Var(add(lin->weight.value(), lin->lora->delta().to(model.dtype())), trainable);
    lin->lora.reset();
  }
}

}  // namespace cpurich
