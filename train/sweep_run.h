// sweep_run.h: training the runs of a sweep plan, resumably, into one JSONL file.
//
// What it teaches: a sweep is many small runs, so it must survive being
// stopped. Each run trains in OUT/runs/ID/ with periodic checkpoints; when
// it ends its row is written to OUT/runs/ID/result.json (atomically), and
// OUT/results.jsonl is rebuilt from all result.json files. A finished run
// (result.json present) is skipped, an interrupted one resumes from its last
// checkpoint. Since rows live in per-run files, runs spread over many machines
// (each writing its own OUT, or one shared OUT) merge by reading the files:
// collect_sweep_rows.
//
// The final loss of a run is measured on a fixed held-out slice, the first
// eval_windows non-overlapping windows of the validation split, so every run
// is scored on the same tokens. Its standard error is sd(window losses) /
// sqrt(windows): the noise of the slice, which the fit must not mistake for
// a trend.
//
// Pipeline position: sweep plan -> [runs] -> results.jsonl -> scripts/scaling.py.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "nn/gpt.h"
#include "tokenizer/tokenizer.h"
#include "train/sweep_plan.h"

namespace cpurich {

/// A held-out loss with its standard error.
struct HeldOutLoss {
  double mean = 0.0;
  double se = 0.0;      ///< sd / sqrt(windows)
  int64_t windows = 0;  ///< windows of T tokens scored
};

/// Mean next-token loss of `model` on the first `windows` non-overlapping
/// windows (T + 1 tokens, stride T) of val_ids, in inference mode.
/// Throws std::invalid_argument if not even one window fits.
HeldOutLoss held_out_loss(GPT& model, std::span<const int32_t> val_ids, int64_t T, int64_t windows);

/// Everything the runs of one sweep share.
struct SweepContext {
  std::string corpus_text;   ///< the corpus (resume checks its hash)
  std::string corpus_name;   ///< recorded in each row
  nlohmann::json tokenizer;  ///< the tokenizer, as save_tokenizer writes it
  std::vector<int32_t> ids;  ///< the corpus tokenized
  SweepRecipe recipe;
  std::string out_dir;  ///< OUT: runs/ID/, results.jsonl
  int threads = 1;      ///< recorded in each row (results do not depend on it)
};

/// Tokenizes corpus_text with a character tokenizer trained on it.
SweepContext make_sweep_context(std::string corpus_text, std::string corpus_name,
                                SweepRecipe recipe, std::string out_dir, int threads);

/// Tokens in the training split of the context's corpus (for make_sweep_plan).
int64_t sweep_train_tokens(const SweepContext& ctx);

/// The row of a finished run in out_dir, if there is one.
std::optional<nlohmann::json> finished_sweep_row(const std::string& out_dir, const std::string& id);

/// Trains `run` (resuming its checkpoint if one exists), measures the held-out
/// loss, writes runs/ID/result.json and rebuilds results.jsonl; returns the row.
/// on_step(iter) is called after every optimizer step. If a stop is requested
/// (request_stop / SIGINT) it checkpoints and returns std::nullopt.
std::optional<nlohmann::json> train_sweep_run(const SweepContext& ctx, const SweepRun& run,
                                              const std::function<void(int64_t)>& on_step = {});

/// The rows of every finished run under the given sweep folders, one per id
/// (first folder wins), ordered by exact training FLOPs then id.
std::vector<nlohmann::json> collect_sweep_rows(const std::vector<std::string>& dirs);

/// Rows as JSONL (one compact object per line).
std::string sweep_rows_to_jsonl(const std::vector<nlohmann::json>& rows);

}  // namespace cpurich
