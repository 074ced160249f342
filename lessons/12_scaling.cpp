// 12_scaling: a scaling law measured on a laptop, and a prediction that is then checked.
//
// What it teaches: "bigger models trained on more data are better" becomes a
// formula. We train six GPTs whose parameter counts N span 20x, each for 20
// tokens per parameter (the same recipe, scaled by fixed rules: train/sweep_plan.h),
// and fit
//     L(N) = E + A * N^-alpha
// E is the loss no model of this family reaches (the corpus's own randomness
// plus what the recipe cannot learn); A N^-alpha is the part more parameters
// (and, along this line, proportionally more data) remove. The fit is plain
// least squares: for a fixed alpha, L is linear in (1, N^-alpha), so E and A
// come from a 2x2 solve; alpha is scanned on a fine grid. A bootstrap (refit on
// runs drawn with replacement) gives its 95% interval. Then the law predicts
// the loss of a model 3x larger than any in the sweep, we train that model and
// compare. Last, the residuals show where the law bends: the smallest models,
// whose embedding tables are a large share of N, sit off the line, and counting
// only non-embedding parameters (Kaplan's N) changes the exponent.
//
// Pipeline position: corpus -> [sweep -> fit -> prediction] -> scripts/scaling.py plots.
// Run: build/release/lessons/12_scaling [--quick] [--out DIR]
//   full (default, about 70 s on a quiet 2-core machine, resumable): OUT = runs/12_scaling
//   --quick (ctest): tiny models, a few seconds; checks the pipeline, not the law
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "tensor/rng.h"
#include "tensor/threads.h"
#include "train/sweep_plan.h"
#include "train/sweep_run.h"
#include "train/world.h"
#include "util/file_util.h"

using namespace cpurich;
namespace fs = std::filesystem;

namespace {

struct LawFit {
  double E = 0.0, A = 0.0, alpha = 0.0, r2 = 0.0;
  double predict(double n) const { return E + A * std::pow(n, -alpha); }
};

//! [fit_law]
// Least squares for L = E + A x with x = N^-alpha, at one alpha: the 2x2
// normal equations. Returns the sum of squared residuals (inf if E < 0 or A <= 0).
double solve_at(const std::vector<double>& n, const std::vector<double>& l, double alpha,
                LawFit& f) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double k = static_cast<double>(n.size());
  for (std::size_t i = 0; i < n.size(); ++i) {
    const double x = std::pow(n[i], -alpha);
    sx += x;
    sy += l[i];
    sxx += x * x;
    sxy += x * l[i];
  }
  const double det = k * sxx - sx * sx;
  if (std::abs(det) < 1e-300) return std::numeric_limits<double>::infinity();
  f.A = (k * sxy - sx * sy) / det;
  f.E = (sy - f.A * sx) / k;
  f.alpha = alpha;
  if (f.E < 0.0 || f.A <= 0.0) return std::numeric_limits<double>::infinity();
  double sse = 0.0;
  for (std::size_t i = 0; i < n.size(); ++i) sse += std::pow(f.predict(n[i]) - l[i], 2);
  return sse;
}

// alpha scanned from 0.005 to 2 in steps of 0.001: the best (E, A, alpha) overall.
LawFit fit_law(const std::vector<double>& n, const std::vector<double>& l) {
  LawFit best, f;
  double best_sse = std::numeric_limits<double>::infinity();
  for (double alpha = 0.005; alpha <= 2.0; alpha += 0.001) {
    const double sse = solve_at(n, l, alpha, f);
    if (sse < best_sse) {
      best_sse = sse;
      best = f;
    }
  }
  double mean = 0.0, ss = 0.0;
  for (double y : l) mean += y / static_cast<double>(l.size());
  for (double y : l) ss += (y - mean) * (y - mean);
  best.r2 = 1.0 - best_sse / ss;
  return best;
}
//! [fit_law]

// 95% bootstrap interval of alpha: refit on runs drawn with replacement.
std::pair<double, double> bootstrap_alpha(const std::vector<double>& n,
                                          const std::vector<double>& l, int reps) {
  Rng rng(12);
  std::vector<double> alphas;
  for (int r = 0; r < reps; ++r) {
    std::vector<double> bn, bl;
    for (std::size_t i = 0; i < n.size(); ++i) {
      const auto j = static_cast<std::size_t>(rng.next_u64() % n.size());
      bn.push_back(n[j]);
      bl.push_back(l[j]);
    }
    std::vector<double> distinct = bn;
    std::sort(distinct.begin(), distinct.end());
    if (std::unique(distinct.begin(), distinct.end()) - distinct.begin() < 3) continue;
    alphas.push_back(fit_law(bn, bl).alpha);
  }
  std::sort(alphas.begin(), alphas.end());
  if (alphas.empty()) return {NAN, NAN};
  auto at = [&](double q) {
    return alphas[static_cast<std::size_t>(q * static_cast<double>(alphas.size() - 1))];
  };
  return {at(0.025), at(0.975)};
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

nlohmann::json train_all(const SweepContext& ctx, const std::vector<SweepRun>& plan) {
  nlohmann::json rows = nlohmann::json::array();
  for (const SweepRun& r : plan) {
    const double t0 = now_s();
    auto row = train_sweep_run(ctx, r);
    if (!row) throw std::runtime_error("stopped");
    std::printf("  %-14s N %7lld (non-emb %7lld)  D %8lld  val loss %.4f +- %.4f  %6.1f s\n",
                r.id.c_str(), static_cast<long long>((*row)["params"].get<int64_t>()),
                static_cast<long long>((*row)["params_non_embedding"].get<int64_t>()),
                static_cast<long long>(r.tokens), (*row)["val_loss"].get<double>(),
                (*row)["val_loss_se"].get<double>(), now_s() - t0);
    std::fflush(stdout);
    rows.push_back(*row);
  }
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string out = "runs/12_scaling";
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else {
      std::fprintf(stderr, "usage: 12_scaling [--quick] [--out DIR]\n");
      return 1;
    }
  }
  try {
    init_threads_from_env();
    if (quick) {
      // a fresh folder per process: quick mode always trains, and parallel
      // test runs never share it
      out = (fs::temp_directory_path() / ("cpurich_12_scaling_quick_" + std::to_string(getpid())))
                .string();
      fs::remove_all(out);
    }
    // 1. The corpus and the recipe. Quick mode: a smaller world and 2 tokens per parameter.
    const world::World w = world::generate_world(world::WorldOptions{.people = quick ? 100 : 500});
    SweepRecipe recipe;
    if (quick) recipe.eval_windows = 32;
    const SweepContext ctx = make_sweep_context(w.corpus, "world", recipe, out, num_threads());
    const int64_t vocab = tokenizer_from_json(ctx.tokenizer)->vocab_size();
    const double tpp = quick ? 2.0 : 20.0;
    const std::vector<double> sizes =
        quick ? std::vector<double>{3e3, 7e3, 1.3e4, 2.4e4} : log_spaced(3e3, 6e4, 6);
    const auto plan = make_sweep_plan(SweepGrid{.sizes = sizes, .tokens_per_param = tpp}, recipe,
                                      vocab, sweep_train_tokens(ctx));
    std::printf("world corpus: %zu characters, vocabulary %lld; %d thread(s); folder %s\n",
                w.corpus.size(), static_cast<long long>(vocab), num_threads(), out.c_str());
    std::printf("\n--- the sweep: %zu models, %.0f tokens per parameter ---\n", plan.size(), tpp);
    const nlohmann::json rows = train_all(ctx, plan);

    // 2. The fit, with N = all parameters and with N = non-embedding parameters.
    std::vector<double> n, nn, l;
    for (const auto& r : rows) {
      n.push_back(r["params"].get<double>());
      nn.push_back(r["params_non_embedding"].get<double>());
      l.push_back(r["val_loss"].get<double>());
    }
    const int reps = quick ? 50 : 400;
    const LawFit f = fit_law(n, l), fn = fit_law(nn, l);
    const auto ci = bootstrap_alpha(n, l, reps), cin = bootstrap_alpha(nn, l, reps);
    std::printf("\n--- the law ---\n");
    std::printf(
        "N total:         L(N) = %.3f + %.4g * N^-%.3f   alpha 95%% [%.3f, %.3f]  R^2 %.4f\n", f.E,
        f.A, f.alpha, ci.first, ci.second, f.r2);
    std::printf(
        "N non-embedding: L(N) = %.3f + %.4g * N^-%.3f   alpha 95%% [%.3f, %.3f]  R^2 %.4f\n", fn.E,
        fn.A, fn.alpha, cin.first, cin.second, fn.r2);
    std::printf(
        "(Kaplan: alpha_N 0.076 at convergence; Chinchilla's compute frontier: N ~ C^0.5)\n");

    // 3. Where the law bends: residuals, and the fit without the smallest model.
    std::printf("\n--- residuals (measured - law), in nats ---\n");
    for (std::size_t i = 0; i < n.size(); ++i)
      std::printf(
          "  N %7.0f  embeddings %4.1f%% of N  residual %+.4f (total-N law) %+.4f "
          "(non-embedding law)\n",
          n[i], 100.0 * (1.0 - nn[i] / n[i]), l[i] - f.predict(n[i]), l[i] - fn.predict(nn[i]));
    if (n.size() >= 4) {
      const std::vector<double> n2(n.begin() + 1, n.end()), l2(l.begin() + 1, l.end());
      const LawFit f2 = fit_law(n2, l2);
      std::printf("without the smallest model: alpha %.3f (all: %.3f), E %.3f (all: %.3f)\n",
                  f2.alpha, f.alpha, f2.E, f.E);
    }

    // 4. Predict a model 3x larger than the largest, then train it.
    // The size rule rounds widths to multiples of 8: raise the target until
    // the model it gives has at least 3x the largest model's parameters.
    double target = 3.0 * nn.back();
    while (static_cast<double>(params_total(shape_for_params(target), vocab, recipe.block_size)) <
           3.0 * n.back())
      target *= 1.05;
    const SweepShape big = shape_for_params(target);
    const double n_big = static_cast<double>(params_total(big, vocab, recipe.block_size));
    const double predicted = f.predict(n_big);
    std::printf("\n--- the held-out model: %.0f parameters (%.1fx the largest) ---\n", n_big,
                n_big / n.back());
    std::printf("predicted loss %.4f; training it...\n", predicted);
    std::fflush(stdout);
    SweepContext held_ctx = ctx;
    held_ctx.out_dir = (fs::path(out) / "heldout").string();
    const auto held_plan = make_sweep_plan(SweepGrid{.sizes = {target}, .tokens_per_param = tpp},
                                           recipe, vocab, sweep_train_tokens(ctx));
    const nlohmann::json held = train_all(held_ctx, held_plan)[0];
    const double measured = held["val_loss"].get<double>();
    const double err = (predicted - measured) / measured;
    std::printf("predicted %.4f, measured %.4f +- %.4f: %+.2f%%\n", predicted, measured,
                held["val_loss_se"].get<double>(), 100.0 * err);

    // 5. fit.json and the plots: scripts/scaling.py when Debian's python3 has
    // scipy; otherwise the lesson writes the L(N) part of fit.json itself.
    const std::string script = std::string(CPURICH_SOURCE_DIR) + "/scripts/scaling.py";
    const std::string fit_cmd =
        "/usr/bin/python3 -c 'import numpy, scipy, matplotlib' 2>/dev/null"
        " && /usr/bin/python3 " +
        script + " " + out + "/results.jsonl" + " --heldout " + held_ctx.out_dir +
        "/results.jsonl --out " + out + (quick ? " --bootstrap 50 --no-plots" : "") + " > " + out +
        "/scaling_py.txt 2>&1";
    if (fs::exists(script) && std::system(fit_cmd.c_str()) == 0) {
      std::printf("\nscripts/scaling.py wrote %s/fit.json and the plots:\n%s", out.c_str(),
                  read_file(out + "/scaling_py.txt").c_str());
    } else {
      nlohmann::json fit = {{"runs", rows.size()},
                            {"total",
                             {{"L(N)",
                               {{"E", f.E},
                                {"A", f.A},
                                {"exponent", f.alpha},
                                {"r2", f.r2},
                                {"exponent_95", {ci.first, ci.second}}}}}},
                            {"prediction",
                             {{"params", n_big},
                              {"tokens", held["tokens"]},
                              {"predicted_loss", predicted},
                              {"measured_loss", measured},
                              {"method", "L(N)"},
                              {"relative_error", err}}}};
      write_file_atomic(out + "/fit.json", fit.dump(2) + "\n");
      std::printf("\n(no /usr/bin/python3 with scipy: wrote %s/fit.json from the lesson's fit)\n",
                  out.c_str());
    }

    // The claims. Quick mode checks the pipeline: the law decreases and the
    // prediction is a finite number. The full sweep checks the measured goals.
    const bool falls = f.alpha > 0.0 && l.back() < l.front();
    const bool has_fit = fs::exists(out + "/fit.json");
    bool ok = falls && has_fit && std::isfinite(predicted);
    std::printf("\nloss falls with N: %s; fit.json written: %s", falls ? "yes" : "NO",
                has_fit ? "yes" : "NO");
    if (!quick) {
      const bool within = std::abs(err) <= 0.02, good_fit = f.r2 >= 0.98;
      std::printf("; R^2 >= 0.98: %s; prediction within 2%%: %s", good_fit ? "yes" : "NO",
                  within ? "yes" : "NO");
      ok = ok && within && good_fit;
    }
    std::printf("\n");
    if (quick) fs::remove_all(out);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "12_scaling: error: %s\n", e.what());
    return 1;
  }
}
