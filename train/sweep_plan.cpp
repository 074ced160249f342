// sweep_plan.cpp: the size rule, the parameter and FLOP counts and the plan
// of a scaling-law sweep (the rules are stated in sweep_plan.h).
#include "train/sweep_plan.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>

namespace cpurich {

namespace {

constexpr double kAspect = 32.0;  // C / L
constexpr int64_t kHeadDim = 8;

std::string run_id(const SweepShape& s, int64_t iters) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "L%lld-C%lld-I%lld", static_cast<long long>(s.n_layer),
                static_cast<long long>(s.n_embd), static_cast<long long>(iters));
  return buf;
}

}  // namespace

SweepShape shape_for_params(double n) {
  if (!(n > 0.0)) throw std::invalid_argument("a sweep size must be positive");
  const int64_t L = std::max<int64_t>(1, std::llround(std::cbrt(n / (12.0 * kAspect * kAspect))));
  const double c = std::sqrt(n / (12.0 * static_cast<double>(L)));
  const int64_t C =
      std::max<int64_t>(2 * kHeadDim, kHeadDim * std::llround(c / static_cast<double>(kHeadDim)));
  return SweepShape{.n_layer = L, .n_head = C / kHeadDim, .n_embd = C};
}

int64_t params_non_embedding(const SweepShape& s) {
  const int64_t C = s.n_embd;
  return s.n_layer * (12 * C * C + 13 * C) + 2 * C;
}

int64_t params_total(const SweepShape& s, int64_t vocab, int64_t block) {
  return vocab * s.n_embd + block * s.n_embd + params_non_embedding(s);
}

double exact_flops_per_token(const SweepShape& s, int64_t vocab, int64_t block) {
  const double C = static_cast<double>(s.n_embd), L = static_cast<double>(s.n_layer);
  const double T = static_cast<double>(block), V = static_cast<double>(vocab);
  const double forward = L * (24.0 * C * C + 2.0 * C * (T + 1.0)) + 2.0 * C * V;
  return 3.0 * forward;
}

std::vector<double> log_spaced(double lo, double hi, int points) {
  if (!(lo > 0.0) || !(hi >= lo) || points < 1)
    throw std::invalid_argument("log_spaced needs 0 < lo <= hi and points >= 1");
  std::vector<double> v;
  for (int i = 0; i < points; ++i) {
    const double f = points == 1 ? 0.0 : static_cast<double>(i) / (points - 1);
    v.push_back(lo * std::pow(hi / lo, f));
  }
  return v;
}

TrainConfig sweep_train_config(const SweepShape& s, int64_t iters, const SweepRecipe& r) {
  TrainConfig c;
  c.n_layer = s.n_layer;
  c.n_head = s.n_head;
  c.n_embd = s.n_embd;
  c.block_size = r.block_size;
  c.dropout = 0.0;
  c.batch_size = r.batch_size;
  c.grad_accum = 1;
  c.max_iters = iters;
  const double lr = r.lr_ref * static_cast<double>(r.width_ref) / static_cast<double>(s.n_embd);
  c.learning_rate = std::min(r.lr_max, lr);
  c.min_lr = c.learning_rate * r.min_lr_ratio;
  c.warmup_iters = static_cast<int64_t>(std::floor(r.warmup_fraction * static_cast<double>(iters)));
  c.eval_every = std::max<int64_t>(1, iters / std::max<int64_t>(1, r.checkpoints));
  c.eval_iters = 2;  // the periodic check is a liveness signal; the final loss is measured apart
  c.log_every = std::max<int64_t>(1, iters / 20);
  c.seed = r.seed;
  c.validate();
  return c;
}

std::vector<SweepRun> make_sweep_plan(const SweepGrid& g, const SweepRecipe& r, int64_t vocab,
                                      int64_t train_tokens) {
  if (g.sizes.empty()) throw std::invalid_argument("a sweep needs at least one size");
  const int64_t step_tokens = r.batch_size * r.block_size;
  const double cap = r.max_epochs * static_cast<double>(train_tokens);
  std::vector<SweepRun> plan;
  std::set<std::string> seen;
  auto add = [&](const SweepShape& s, double d, std::optional<double> budget) {
    bool capped = false;
    if (d > cap) {
      d = cap;
      capped = true;
    }
    const int64_t iters = std::max<int64_t>(1, std::llround(d / static_cast<double>(step_tokens)));
    SweepRun run{.id = run_id(s, iters),
                 .shape = s,
                 .tokens = iters * step_tokens,
                 .budget = budget,
                 .epoch_capped = capped,
                 .config = sweep_train_config(s, iters, r)};
    if (seen.insert(run.id).second) plan.push_back(std::move(run));
  };
  for (double n : g.sizes) {
    const SweepShape s = shape_for_params(n);
    const double N = static_cast<double>(params_total(s, vocab, r.block_size));
    if (!g.isoflop.empty()) {
      for (double budget : g.isoflop) {
        const double d = budget / (6.0 * N);
        if (d < static_cast<double>(g.min_steps * step_tokens) || d > cap) continue;
        add(s, d, budget);
      }
    } else if (!g.flops.empty()) {
      for (double f : g.flops) add(s, f / (6.0 * N), f);
    } else if (!g.tokens.empty()) {
      for (double d : g.tokens) add(s, d, std::nullopt);
    } else {
      add(s, g.tokens_per_param * N, std::nullopt);
    }
  }
  if (plan.empty())
    throw std::invalid_argument(
        "the sweep plan is empty: every IsoFLOP point needed fewer than min_steps steps or more "
        "than max_epochs passes over the corpus");
  // Smallest compute first: early results arrive quickly and the ETA learns from them.
  std::stable_sort(plan.begin(), plan.end(), [&](const SweepRun& a, const SweepRun& b) {
    return exact_flops_per_token(a.shape, vocab, r.block_size) * static_cast<double>(a.tokens) <
           exact_flops_per_token(b.shape, vocab, r.block_size) * static_cast<double>(b.tokens);
  });
  return plan;
}

nlohmann::json sweep_recipe_to_json(const SweepRecipe& r) {
  return {{"block_size", r.block_size},
          {"batch_size", r.batch_size},
          {"lr_ref", r.lr_ref},
          {"width_ref", r.width_ref},
          {"lr_max", r.lr_max},
          {"min_lr_ratio", r.min_lr_ratio},
          {"warmup_fraction", r.warmup_fraction},
          {"max_epochs", r.max_epochs},
          {"eval_windows", r.eval_windows},
          {"checkpoints", r.checkpoints},
          {"seed", r.seed}};
}

nlohmann::json sweep_run_to_json(const SweepRun& run) {
  nlohmann::json j = {{"id", run.id},
                      {"tokens", run.tokens},
                      {"epoch_capped", run.epoch_capped},
                      {"config", train_config_to_json(run.config)}};
  j["budget"] = run.budget ? nlohmann::json(*run.budget) : nlohmann::json(nullptr);
  return j;
}

}  // namespace cpurich
