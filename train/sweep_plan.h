// sweep_plan.h: what a scaling-law sweep trains, decided before anything trains.
//
// What it teaches: a scaling law is a curve through many runs that differ only
// in size N (parameters) and data D (tokens); everything else must follow
// fixed rules, or the curve measures the rules instead of the scale. The rules:
//
//   shape:  aspect ratio C = 32 L:  L = max(1, round(cbrt(N / (12 * 32^2)))),
//           C = 8 * round(sqrt(N / (12 L)) / 8) (>= 16), heads of 8 dims,
//           since a block holds 12 C^2 + 13 C weights (Kaplan et al. find the
//           loss nearly flat over a wide range of C / L, so one ratio suffices)
//   lr:     peak = lr_ref * C_ref / C (capped at lr_max): wider layers sum more
//           terms per output, so the same step moves each output more
//   warmup: floor(5% of the run's steps); cosine to 10% of the peak at the run's
//           own last step (Chinchilla: a schedule longer than the run hurts it)
//   data:   D tokens in whole steps of B*T; never more than max_epochs passes
//           over the training split (Muennighoff et al.: <= 4 epochs is nearly
//           as good as fresh data)
//
// Compute, counted two ways (per training token, forward + backward = 3x forward):
//   6N:     6 * params (Kaplan's C = 6ND)
//   exact:  3 * [ L * (24 C^2 + 2 C (T+1)) + 2 C V ]
//           24 C^2: the four Linears of a block (qkv 3C^2, proj C^2, fc 4C^2,
//           proj 4C^2; 2 FLOPs per multiply-add); 2 C (T+1): causal attention,
//           q.k and p.v over the (t+1) visible positions, averaged over a
//           window of T; 2 C V: the tied output head. Embedding lookups are
//           free; elementwise ops (LayerNorm, GELU, softmax, ~1%) are left out,
//           as Kaplan and Chinchilla's matmul counts leave them out.
//
// Pipeline position: corpus -> [sweep plan] -> runs -> results.jsonl -> fit.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "train/train_config.h"

namespace cpurich {

/// The fixed recipe every run of a sweep shares; the rules above scale it.
struct SweepRecipe {
  int64_t block_size = 64;    ///< context T
  int64_t batch_size = 16;    ///< sequences per step B
  double lr_ref = 1e-3;       ///< peak learning rate at width C_ref
  int64_t width_ref = 128;    ///< C_ref
  double lr_max = 4e-3;       ///< cap for the narrowest models
  double min_lr_ratio = 0.1;  ///< cosine floor / peak
  double warmup_fraction = 0.05;
  double max_epochs = 4.0;     ///< cap on passes over the training split
  int64_t eval_windows = 256;  ///< fixed held-out windows for the final loss
  int64_t checkpoints = 5;     ///< checkpoints per run (resume points)
  uint64_t seed = 1337;
};

/// A model shape.
struct SweepShape {
  int64_t n_layer = 1, n_head = 1, n_embd = 16;
};

/// The shape the size rule gives for a target of n non-embedding parameters.
SweepShape shape_for_params(double n);

/// Exact parameter counts of a GPT shape (tied head): V C + P C + L (12 C^2 + 13 C) + 2 C.
int64_t params_total(const SweepShape& s, int64_t vocab, int64_t block);
/// The same without the two embedding tables: L (12 C^2 + 13 C) + 2 C.
int64_t params_non_embedding(const SweepShape& s);
/// Training FLOPs per token, exact matmul count (formula above).
double exact_flops_per_token(const SweepShape& s, int64_t vocab, int64_t block);

/// One run of the sweep, fully determined.
struct SweepRun {
  std::string id;  ///< "L2-C48-I1200": unique in a plan, names its folder
  SweepShape shape;
  int64_t tokens = 0;            ///< D = iters * B * T
  std::optional<double> budget;  ///< IsoFLOP budget (6ND FLOPs) this run belongs to
  bool epoch_capped = false;     ///< D was cut to max_epochs passes
  TrainConfig config;            ///< the full training config (schedule included)
};

/// What to sweep. Sizes are non-embedding parameter targets.
struct SweepGrid {
  std::vector<double> sizes;       ///< N targets
  std::vector<double> tokens;      ///< D values (grid: every size x every D)
  double tokens_per_param = 20.0;  ///< used when tokens and flops are empty: D = r N
  std::vector<double> flops;       ///< per-run 6ND budgets: D = C / (6 N)
  std::vector<double> isoflop;     ///< IsoFLOP budgets: every size at D = C / (6 N)
  int64_t min_steps = 20;          ///< IsoFLOP points with fewer steps are dropped
};

/// N targets spaced evenly in log between lo and hi (points >= 2).
std::vector<double> log_spaced(double lo, double hi, int points);

/// The runs of a sweep on a corpus whose training split has train_tokens tokens
/// and a vocabulary of vocab. Throws std::invalid_argument on an empty grid.
std::vector<SweepRun> make_sweep_plan(const SweepGrid& grid, const SweepRecipe& recipe,
                                      int64_t vocab, int64_t train_tokens);

/// The training config the rules give for a shape trained for `iters` steps.
TrainConfig sweep_train_config(const SweepShape& s, int64_t iters, const SweepRecipe& recipe);

nlohmann::json sweep_recipe_to_json(const SweepRecipe& r);
nlohmann::json sweep_run_to_json(const SweepRun& run);

}  // namespace cpurich
