// finetune.cpp: the fine-tuning step (see finetune.h).
#include "train/finetune.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <system_error>

#include "autograd/ops.h"
#include "nn/safetensors.h"
#include "train/checkpoint_files.h"

namespace cpurich {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

NamedParameters trainable(GPT& model, const FinetuneOptions& o, QLoraStats& stats) {
  if (o.method == FinetuneMethod::Full) return model.named_parameters();
  LoraOptions lo = o.lora;
  lo.seed = o.seed;
  if (o.method == FinetuneMethod::QLora) return add_qlora(model, lo, o.qlora, &stats);
  return add_lora(model, lo);
}

// The options, once they and the data's block size are known to fit the model.
const FinetuneOptions& checked(const FinetuneOptions& o, const SftData& data, const GPT& model) {
  o.validate();
  if (data.block_size > model.config().n_positions)
    throw std::invalid_argument("finetune: data built for block " +
                                std::to_string(data.block_size) + " > the model's n_positions " +
                                std::to_string(model.config().n_positions));
  return o;
}

constexpr const char* kStateFile = "finetune_state.json";
constexpr int kStateVersion = 1;

std::string join(const std::string& dir, const char* file) {
  return (std::filesystem::path(dir) / file).string();
}

LrSchedule make_schedule(const FinetuneOptions& o) {
  const double peak = o.peak_lr();
  return LrSchedule{.peak = peak,
                    .floor = peak * o.min_lr_ratio,
                    .warmup = std::llround(o.warmup_fraction * static_cast<double>(o.iters)),
                    .decay_iters = o.iters};
}

}  // namespace

FinetuneMethod finetune_method_from_name(const std::string& name) {
  if (name == "full") return FinetuneMethod::Full;
  if (name == "lora") return FinetuneMethod::Lora;
  if (name == "qlora") return FinetuneMethod::QLora;
  throw std::invalid_argument("unknown fine-tuning method '" + name + "' (full, lora or qlora)");
}

void FinetuneOptions::validate() const {
  if (iters < 1) throw std::invalid_argument("finetune: iters must be >= 1");
  if (batch < 1) throw std::invalid_argument("finetune: batch must be >= 1");
  if (!(lr >= 0.0) || !std::isfinite(lr)) throw std::invalid_argument("finetune: lr must be >= 0");
  if (!(warmup_fraction >= 0.0 && warmup_fraction < 1.0))
    throw std::invalid_argument("finetune: warmup fraction must be in [0, 1)");
  if (!(min_lr_ratio >= 0.0 && min_lr_ratio <= 1.0))
    throw std::invalid_argument("finetune: min_lr_ratio must be in [0, 1]");
  if (!(grad_clip >= 0.0)) throw std::invalid_argument("finetune: grad_clip must be >= 0");
  if (!(weight_decay >= 0.0)) throw std::invalid_argument("finetune: weight_decay must be >= 0");
  if (method != FinetuneMethod::Full) lora.validate();
  if (qlora.loftq_iters < 0) throw std::invalid_argument("finetune: loftq iterations must be >= 0");
}

double FinetuneOptions::peak_lr() const {
  if (lr > 0.0) return lr;
  return method == FinetuneMethod::Full ? 1e-4 : 1e-3;
}

FineTuner::FineTuner(GPT& model, const SftData& data, const FinetuneOptions& options)
    : model_(model),
      data_(data),
      options_(checked(options, data, model)),
      params_(trainable(model, options_, qlora_stats_)),
      optimizer_(params_, AdamWOptions{.weight_decay = options_.weight_decay}),
      sampler_(static_cast<int64_t>(data.examples.size()), hash64(options_.seed, 1)),
      schedule_(make_schedule(options_)) {}

int64_t FineTuner::trainable_parameters() const {
  int64_t n = 0;
  for (const auto& [name, p] : params_) n += p.value().numel();
  return n;
}

FinetuneStep FineTuner::step() {
  const double t0 = now_s();
  FinetuneStep r;
  r.lr = learning_rate_at(schedule_, iter_);
  const std::vector<int64_t> rows = sampler_.next(options_.batch);
  const Batch b = sft_batch(data_, rows);
  const Var loss = model_.loss(b.inputs, b.targets, b.B, b.T, /*training=*/true);
  r.loss = loss.value().item();
  if (!std::isfinite(r.loss))
    throw NonFiniteError("non-finite fine-tuning loss (" + std::to_string(r.loss) + ") at step " +
                         std::to_string(iter_ + 1));
  loss.backward();
  try {
    r.grad_norm = clip_grad_norm(params_, options_.grad_clip);
  } catch (const NonFiniteError& e) {
    optimizer_.zero_grad();
    throw NonFiniteError(std::string(e.what()) + " at step " + std::to_string(iter_ + 1));
  }
  optimizer_.step(r.lr);
  optimizer_.zero_grad();
  r.iter = ++iter_;
  r.tokens = b.B * b.T;
  r.seconds = now_s() - t0;
  return r;
}

double FineTuner::dataset_loss() {
  NoGradGuard no_grad;
  const auto n = static_cast<int64_t>(data_.examples.size());
  double sum = 0.0;  // loss * graded targets, summed batch by batch in order
  int64_t graded = 0;
  for (int64_t start = 0; start < n; start += options_.batch) {
    std::vector<int64_t> rows;
    for (int64_t i = start; i < std::min(n, start + options_.batch); ++i) rows.push_back(i);
    const Batch b = sft_batch(data_, rows);
    int64_t k = 0;
    for (int32_t t : b.targets) k += t >= 0;
    sum += model_.loss(b.inputs, b.targets, b.B, b.T).value().item() * static_cast<double>(k);
    graded += k;
  }
  return sum / static_cast<double>(graded);
}

void FineTuner::save(const std::string& dir, const nlohmann::json& run) {
  try {
    const std::string stage = begin_commit(dir);
    std::map<std::string, Tensor> weights;
    for (const auto& [name, p] : params_) weights.emplace(name, p.value());
    write_safetensors(join(stage, "trainable.safetensors"), weights);
    write_safetensors(join(stage, "optimizer.safetensors"), optimizer_.state_tensors());
    nlohmann::json adapters = nlohmann::json::object();
    for (const auto& [name, lin] : model_.linear_modules())
      if (lin->lora) adapters[name] = lin->lora->dropout_rng().counter();
    finish_commit(dir, kStateFile,
                  {{"version", kStateVersion},
                   {"iter", iter_},
                   {"adam_step", optimizer_.step_count()},
                   {"dropout_counter", model_.dropout_rng().counter()},
                   {"adapter_dropout_counters", adapters},
                   {"run", run}});
  } catch (const std::exception& e) {
    std::error_code ec;  // free what the failed save took (a full disk needs the room)
    std::filesystem::remove_all(join(dir, ".staging"), ec);
    throw std::runtime_error("checkpoint of step " + std::to_string(iter_) + " not saved: " +
                             e.what() + "; " + dir + " still holds the last complete checkpoint");
  }
}

nlohmann::json FineTuner::restore(const std::string& dir) {
  const std::string path = join(dir, kStateFile);
  const nlohmann::json j = open_commit(dir, kStateFile);
  auto bad = [&](const std::string& what) {
    return std::runtime_error("checkpoint " + path + ": " + what);
  };
  try {
    if (j.at("version").get<int>() != kStateVersion) throw bad("unsupported version");
    const auto iter = j.at("iter").get<int64_t>();
    const auto adam_step = j.at("adam_step").get<int64_t>();
    if (iter < 0 || iter > options_.iters || adam_step < 0) throw bad("counters out of range");
    const auto weights = read_safetensors(join(dir, "trainable.safetensors")).tensors;
    const std::string problem = state_dict_mismatch(params_, weights, " in the checkpoint");
    if (!problem.empty()) throw bad(problem);
    for (auto& [name, p] : params_) p.value_mut().copy_from(weights.at(name).to(p.value().dtype()));
    optimizer_.load_state_tensors(read_safetensors(join(dir, "optimizer.safetensors")).tensors,
                                  adam_step);
    model_.dropout_rng().set_counter(j.at("dropout_counter").get<uint64_t>());
    const nlohmann::json& adapters = j.at("adapter_dropout_counters");
    for (const auto& [name, lin] : model_.linear_modules()) {
      if (!lin->lora) continue;
      if (!adapters.contains(name)) throw bad("no dropout counter for " + name);
      lin->lora->dropout_rng().set_counter(adapters[name].get<uint64_t>());
    }
    // The example order is a pure function of the seed and the draws so far: replay them.
    for (int64_t i = 0; i < iter; ++i) sampler_.next(options_.batch);
    iter_ = iter;
    return j.at("run");
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("missing or mistyped key (") + e.what() + ")");
  }
}

}  // namespace cpurich
