// gpt.cpp: building, running and (de)serialising the parameters of GPT-2
// (see gpt.h). The forward pass is written to allocate nothing it does not
// need: (B, T, C) <-> (B*T, C) reshapes are views, the position embedding is
// broadcast over the batch instead of being copied B times.
#include "nn/gpt.h"

#include <numeric>
#include <stdexcept>

#include "autograd/ops.h"

namespace cpurich {

namespace {

constexpr double kInitStd = 0.02;
// The dropout generator gets its own stream so that turning dropout on does
// not change the initial weights (and vice versa).
constexpr uint64_t kDropoutStream = 0x64726f706f7574ULL;  // "dropout"

const GPTConfig& validated(const GPTConfig& config) {
  config.validate();
  return config;
}

std::vector<Block> make_blocks(const GPTConfig& config, const ParamInit& init) {
  std::vector<Block> blocks;
  blocks.reserve(static_cast<size_t>(config.n_layer));
  for (int64_t i = 0; i < config.n_layer; ++i) blocks.emplace_back(config, init);
  return blocks;
}

ParamInit param_init(DType dtype, bool randomize, Rng& rng) {
  return ParamInit{dtype, randomize ? &rng : nullptr};
}

}  // namespace

GPT::GPT(const GPTConfig& config, uint64_t seed, DType dtype)
    : GPT(config, dtype, seed, true, Rng(seed)) {}

GPT GPT::zeros(const GPTConfig& config, DType dtype) {
  return GPT(config, dtype, 0, false, Rng(0));
}

// Member initialisers run in declaration order (wte, wpe, h, ln_f), which
// fixes the order the weights are drawn from init_rng: HF's parameter order.
GPT::GPT(const GPTConfig& config, DType dtype, uint64_t seed, bool randomize, Rng init_rng)
    : config_(validated(config)),
      dtype_(dtype),
      wte_(config.vocab_size, config.n_embd, kInitStd, param_init(dtype, randomize, init_rng)),
      wpe_(config.n_positions, config.n_embd, kInitStd, param_init(dtype, randomize, init_rng)),
      h_(make_blocks(config, param_init(dtype, randomize, init_rng))),
      ln_f_(config.n_embd, config.layer_norm_epsilon, param_init(dtype, randomize, init_rng)),
      dropout_rng_(hash64(seed, kDropoutStream)),
      positions_(static_cast<size_t>(config.n_positions)) {
  if (dtype != DType::F32 && dtype != DType::F64)
    throw std::invalid_argument("GPT parameters must be f32 or f64, got " + dtype_name(dtype));
  std::iota(positions_.begin(), positions_.end(), 0);
}

void GPT::to_dtype(DType dtype) {
  if (dtype != DType::F32 && dtype != DType::F64)
    throw std::invalid_argument("GPT parameters must be f32 or f64, got " + dtype_name(dtype));
  visit_parameters("", [dtype](const std::string&, Var& p) {
    p.zero_grad();
    p.value_mut() = p.value().to(dtype);
  });
  dtype_ = dtype;
}

std::vector<std::pair<std::string, Linear*>> GPT::linear_modules() {
  std::vector<std::pair<std::string, Linear*>> out;
  for (size_t i = 0; i < h_.size(); ++i) {
    const std::string p = "h." + std::to_string(i) + ".";
    out.emplace_back(p + "attn.c_attn", &h_[i].attn.c_attn);
    out.emplace_back(p + "attn.c_proj", &h_[i].attn.c_proj);
    out.emplace_back(p + "mlp.c_fc", &h_[i].mlp.c_fc);
    out.emplace_back(p + "mlp.c_proj", &h_[i].mlp.c_proj);
  }
  return out;
}

Var GPT::forward(std::span<const int32_t> ids, int64_t B, int64_t T, bool training) {
  if (B < 1 || T < 1 || T > config_.n_positions)
    throw std::invalid_argument("GPT::forward: need B >= 1 and 1 <= T <= n_positions (" +
                                std::to_string(config_.n_positions) +
                                "), got B=" + std::to_string(B) + " T=" + std::to_string(T));
  if (static_cast<int64_t>(ids.size()) != B * T)
    throw std::invalid_argument("GPT::forward: " + std::to_string(ids.size()) +
                                " ids for B*T = " + std::to_string(B * T));
  const int64_t C = config_.n_embd;
  const DropoutContext drop{config_.dropout, &dropout_rng_, training};
  const Var tok = ag::reshape(wte_.forward(ids), {B, T, C});     // (B*T, C) -> (B, T, C) view
  const Var pos = wpe_.forward(std::span(positions_).first(T));  // (T, C), broadcast over B
  Var x = drop(ag::add(tok, pos));                               // (B, T, C)
  for (const Block& block : h_) x = block.forward(x, drop);
  x = ln_f_.forward(x);
  // Tied head: logits = x @ wte^T, one (B*T, C) x (C, V) GEMM.
  const Var logits = ag::matmul(ag::reshape(x, {B * T, C}), wte_.weight, false, true);
  return ag::reshape(logits, {B, T, config_.vocab_size});
}

Var GPT::loss(std::span<const int32_t> ids, std::span<const int32_t> targets, int64_t B, int64_t T,
              bool training, int32_t ignore_index) {
  if (targets.size() != ids.size())
    throw std::invalid_argument("GPT::loss: " + std::to_string(targets.size()) + " targets for " +
                                std::to_string(ids.size()) + " ids");
  const Var logits = forward(ids, B, T, training);
  return ag::cross_entropy(ag::reshape(logits, {B * T, config_.vocab_size}), targets, ignore_index);
}

void GPT::visit_parameters(const std::string& prefix, const ParameterVisitor& visit) {
  wte_.visit_parameters(prefix + "wte.", visit);
  wpe_.visit_parameters(prefix + "wpe.", visit);
  for (size_t i = 0; i < h_.size(); ++i)
    h_[i].visit_parameters(prefix + "h." + std::to_string(i) + ".", visit);
  ln_f_.visit_parameters(prefix + "ln_f.", visit);
}

std::map<std::string, Tensor> GPT::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, p] : named_parameters()) out.emplace(name, p.value());
  return out;
}

void GPT::load_state_dict(const std::map<std::string, Tensor>& tensors) {
  const NamedParameters params = named_parameters();
  const std::string problem = state_dict_mismatch(params, tensors);
  if (!problem.empty()) throw std::runtime_error(problem);
  visit_parameters("", [&](const std::string& name, Var& p) {
    p.value_mut().copy_from(tensors.at(name).to(dtype_));
  });
}

int64_t GPT::num_parameters() const {
  return Module::num_parameters();
}

int64_t GPT::num_parameters_non_embedding() const {
  return num_parameters() - wte_.weight.value().numel() - wpe_.weight.value().numel();
}

}  // namespace cpurich
