// sweep_run.cpp: one sweep run from plan to JSONL row, resumable (see sweep_run.h).
#include "train/sweep_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <stdexcept>

#include "autograd/var.h"
#include "tokenizer/tokenizer_char.h"
#include "train/trainer.h"
#include "util/file_util.h"

namespace cpurich {

namespace fs = std::filesystem;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

fs::path run_dir(const std::string& out, const std::string& id) {
  return fs::path(out) / "runs" / id;
}

double exact_flops(const nlohmann::json& row) {
  return row.at("flops_exact").get<double>();
}

}  // namespace

HeldOutLoss held_out_loss(GPT& model, std::span<const int32_t> val_ids, int64_t T,
                          int64_t windows) {
  const int64_t fit = (static_cast<int64_t>(val_ids.size()) - 1) / T;
  const int64_t n = std::min(windows, fit);
  if (n < 1)
    throw std::invalid_argument("the validation split (" + std::to_string(val_ids.size()) +
                                " tokens) holds no window of " + std::to_string(T + 1));
  NoGradGuard no_grad;
  std::vector<double> losses;
  for (int64_t w = 0; w < n; ++w) {
    const auto in = val_ids.subspan(static_cast<std::size_t>(w * T), static_cast<std::size_t>(T));
    const auto tg =
        val_ids.subspan(static_cast<std::size_t>(w * T + 1), static_cast<std::size_t>(T));
    losses.push_back(model.loss(in, tg, 1, T, /*training=*/false).value().item());
  }
  double mean = 0.0;
  for (double l : losses) mean += l;
  mean /= static_cast<double>(n);
  double ss = 0.0;
  for (double l : losses) ss += (l - mean) * (l - mean);
  const double sd = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
  return HeldOutLoss{.mean = mean, .se = sd / std::sqrt(static_cast<double>(n)), .windows = n};
}

SweepContext make_sweep_context(std::string corpus_text, std::string corpus_name,
                                SweepRecipe recipe, std::string out_dir, int threads) {
  const CharTokenizer tok = CharTokenizer::train(corpus_text);
  SweepContext ctx{.corpus_text = std::move(corpus_text),
                   .corpus_name = std::move(corpus_name),
                   .tokenizer = tok.to_json(),
                   .ids = {},
                   .recipe = recipe,
                   .out_dir = std::move(out_dir),
                   .threads = threads};
  ctx.ids = tok.encode(ctx.corpus_text);
  return ctx;
}

int64_t sweep_train_tokens(const SweepContext& ctx) {
  return static_cast<int64_t>(
      split_train_val(ctx.ids, TrainConfig{}.val_fraction, ctx.recipe.block_size).first.size());
}

std::optional<nlohmann::json> finished_sweep_row(const std::string& out_dir,
                                                 const std::string& id) {
  const fs::path p = run_dir(out_dir, id) / "result.json";
  if (!fs::exists(p)) return std::nullopt;
  return nlohmann::json::parse(read_file(p.string()));
}

std::optional<nlohmann::json> train_sweep_run(const SweepContext& ctx, const SweepRun& run,
                                              const std::function<void(int64_t)>& on_step) {
  if (auto row = finished_sweep_row(ctx.out_dir, run.id)) return row;
  const double t0 = now_s();
  const std::string dir = run_dir(ctx.out_dir, run.id).string();
  fs::create_directories(dir);
  const TrainerOptions opts{
      .out_dir = dir, .quiet = true, .measure_peak = false, .threads = ctx.threads};
  const bool resuming = fs::exists(fs::path(dir) / "train_state.json");
  Trainer t = resuming ? Trainer::resume(dir, ctx.corpus_text, opts)
                       : Trainer(run.config, tokenizer_from_json(ctx.tokenizer), ctx.ids,
                                 fnv1a64(ctx.corpus_text), opts);
  if (resuming && train_config_to_json(t.config()) != train_config_to_json(run.config))
    throw std::runtime_error("the checkpoint in " + dir +
                             " was made with another config; delete the folder to retrain it");
  const int64_t resumed_from = t.iter();
  double last_loss = std::nan("");
  t.run([&](const StepResult& r) {
    last_loss = r.loss;
    if (on_step) on_step(r.iter);
  });
  if (stop_requested()) return std::nullopt;

  const int64_t T = run.config.block_size;
  const auto val = split_train_val(ctx.ids, run.config.val_fraction, T).second;
  const HeldOutLoss held = held_out_loss(t.model(), val, T, ctx.recipe.eval_windows);
  const int64_t V = t.tokenizer().vocab_size();
  const int64_t N = t.model().num_parameters(), Nn = t.model().num_parameters_non_embedding();
  const double D = static_cast<double>(run.tokens);
  nlohmann::json row = {
      {"id", run.id},
      {"params", N},
      {"params_non_embedding", Nn},
      {"n_layer", run.shape.n_layer},
      {"n_embd", run.shape.n_embd},
      {"tokens", run.tokens},
      {"iters", run.config.max_iters},
      {"epochs", D / static_cast<double>(sweep_train_tokens(ctx))},
      {"epoch_capped", run.epoch_capped},
      {"flops_6nd", 6.0 * static_cast<double>(N) * D},
      {"flops_6nd_non_embedding", 6.0 * static_cast<double>(Nn) * D},
      {"flops_exact", exact_flops_per_token(run.shape, V, T) * D},
      {"val_loss", held.mean},
      {"val_loss_se", held.se},
      {"val_windows", held.windows},
      {"val_tokens", held.windows * T},
      {"train_loss_last", std::isfinite(last_loss) ? nlohmann::json(last_loss) : nullptr},
      {"wall_seconds", now_s() - t0},
      {"resumed_from_step", resumed_from},
      {"threads", ctx.threads},
      {"seed", run.config.seed},
      {"vocab", V},
      {"corpus", ctx.corpus_name},
      {"corpus_hash", fnv1a64(ctx.corpus_text)},
      {"recipe", sweep_recipe_to_json(ctx.recipe)},
      {"config", train_config_to_json(run.config)}};
  row["budget"] = run.budget ? nlohmann::json(*run.budget) : nlohmann::json(nullptr);
  write_file_atomic((fs::path(dir) / "result.json").string(), row.dump(2) + "\n");
  write_file_atomic((fs::path(ctx.out_dir) / "results.jsonl").string(),
                    sweep_rows_to_jsonl(collect_sweep_rows({ctx.out_dir})));
  return row;
}

std::vector<nlohmann::json> collect_sweep_rows(const std::vector<std::string>& dirs) {
  std::map<std::string, nlohmann::json> by_id;
  for (const std::string& d : dirs) {
    const fs::path runs = fs::path(d) / "runs";
    if (!fs::is_directory(runs)) {
      if (!fs::is_directory(d)) throw std::runtime_error("no sweep folder " + d);
      continue;
    }
    for (const auto& e : fs::directory_iterator(runs)) {
      const fs::path p = e.path() / "result.json";
      if (!fs::exists(p)) continue;
      auto row = nlohmann::json::parse(read_file(p.string()));
      by_id.emplace(row.at("id").get<std::string>(), std::move(row));
    }
  }
  std::vector<nlohmann::json> rows;
  for (auto& [id, row] : by_id) rows.push_back(std::move(row));
  std::stable_sort(rows.begin(), rows.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return exact_flops(a) < exact_flops(b);
  });
  return rows;
}

std::string sweep_rows_to_jsonl(const std::vector<nlohmann::json>& rows) {
  std::string s;
  for (const auto& r : rows) s += r.dump() + "\n";
  return s;
}

}  // namespace cpurich
