// 07_sampling: one prompt, many samplers, side by side; then the KV cache's
// speedup measured on the spot.
//
// What it teaches: the model only gives next-token probabilities; the sampler
// decides what text you see. Greedy decoding repeats itself, low temperature
// plays safe, high temperature invents, and top-k / top-p / min-p cut off the
// unlikely tail so a high temperature stays readable. Then we generate the
// same greedy text twice, once with the KV cache (one row per token) and once
// recomputing the whole context for every token, check that the tokens are
// identical, and time both. Checked claims (a false one exits 1): the cache
// changes no token, and the same seed gives the same sample.
//
// Pipeline position: text -> tokens -> tensors -> model -> [samples].
// Run: build/release/lessons/07_sampling [--quick] [model_dir [prompt]]
//   Without a model directory it first trains a tiny character model on the
//   built-in world corpus for 300 steps (~2 minutes on 2 idle cores).
//   --quick (for ctest): 40 training steps and shorter samples; the claims do
//   not depend on how well the model is trained, so all of them are checked.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "infer/generate.h"
#include "infer/sampling.h"
#include "infer/session.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"
#include "train/trainer.h"
#include "train/world.h"

using namespace cpurich;

namespace {

struct Setting {
  const char* label;
  SamplerOptions sampler;
};

// Newlines shown as a visible mark so each sample stays on one line.
std::string one_line(const std::string& s) {
  std::string out;
  for (const char ch : s) out += ch == '\n' ? std::string("\\n") : std::string(1, ch);
  return out;
}

// A model trained for `steps` steps on the world corpus.
InferenceModel train_quick_model(std::string& prompt, int64_t steps) {
  const world::World w = world::generate_world(world::WorldOptions{.people = 200});
  auto tok = std::make_unique<CharTokenizer>(CharTokenizer::train(w.corpus));
  const std::vector<int32_t> ids = tok->encode(w.corpus);
  TrainConfig cfg = tiny_config();
  cfg.max_iters = steps;
  cfg.warmup_iters = steps / 10;
  cfg.eval_every = steps;
  cfg.eval_iters = 5;
  std::printf("no model directory given: training a tiny char model for %lld steps...\n",
              static_cast<long long>(cfg.max_iters));
  std::fflush(stdout);
  Trainer t(cfg, std::move(tok), ids, fnv1a64(w.corpus),
            TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
  t.run();
  std::printf("done: validation loss %.3f nats/token\n\n", t.evaluate());
  prompt = w.people[0].name + " was born";
  InferenceModel m;
  m.decoder = std::make_unique<Decoder>(t.model());
  m.tokenizer = std::make_unique<CharTokenizer>(CharTokenizer::from_json(t.tokenizer().to_json()));
  return m;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Greedy tokens with the cache vs recomputing everything; prints both speeds.
// Returns whether the two gave the same tokens (the cache must change nothing).
bool cache_speedup(Decoder& d, const std::vector<int32_t>& prompt, int64_t max_new) {
  const int64_t n =
      std::min<int64_t>(max_new, d.config().n_positions - static_cast<int64_t>(prompt.size()));
  std::vector<int32_t> cached = prompt, full = prompt;
  auto t0 = std::chrono::steady_clock::now();
  d.reset();
  auto logits = d.append(cached);
  for (int64_t i = 0; i < n; ++i) {
    cached.push_back(argmax(logits));
    if (i + 1 < n) logits = d.step(cached.back());
  }
  const double with_cache = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    d.reset();
    full.push_back(argmax(d.append(full)));  // the whole context, every time
  }
  const double without = seconds_since(t0);
  std::printf("\n--- the KV cache, %lld new tokens after a %zu-token prompt ---\n",
              static_cast<long long>(n), prompt.size());
  std::printf("with cache:    %8.0f tokens/s\n", static_cast<double>(n) / with_cache);
  std::printf("without cache: %8.0f tokens/s   (%.1fx slower)\n", static_cast<double>(n) / without,
              without / with_cache);
  std::printf("same tokens:   %s\n", cached == full ? "yes, bit for bit" : "NO (a bug!)");
  return cached == full;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    bool quick = false;
    std::vector<std::string> args;  // model_dir, prompt
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--quick") == 0)
        quick = true;
      else
        args.emplace_back(argv[i]);
    }
    std::string prompt = args.size() > 1 ? args[1] : "The";
    InferenceModel m =
        !args.empty() ? load_inference_model(args[0]) : train_quick_model(prompt, quick ? 40 : 300);
    const int64_t new_tokens = quick ? 30 : 80;
    const auto ids = encode_prompt(*m.tokenizer, prompt);
    // Every setting draws with seed 7, so a run prints the same text each time.
    const Setting settings[] = {
        {"greedy (T=0)          ", SamplerOptions{.temperature = 0.0, .seed = 7}},
        {"T=0.5                 ", SamplerOptions{.temperature = 0.5, .seed = 7}},
        {"T=1.0                 ", SamplerOptions{.temperature = 1.0, .seed = 7}},
        {"T=1.5                 ", SamplerOptions{.temperature = 1.5, .seed = 7}},
        {"T=1.5, top-k 5        ", SamplerOptions{.temperature = 1.5, .top_k = 5, .seed = 7}},
        {"T=1.5, top-p 0.8      ", SamplerOptions{.temperature = 1.5, .top_p = 0.8, .seed = 7}},
        {"T=1.5, min-p 0.1      ", SamplerOptions{.temperature = 1.5, .min_p = 0.1, .seed = 7}},
        {"greedy, rep. penalty 1.3",
         SamplerOptions{.temperature = 0.0, .repetition_penalty = 1.3, .seed = 7}},
    };
    std::printf("prompt: \"%s\"   (%lld new tokens each, seed 7)\n\n", prompt.c_str(),
                static_cast<long long>(new_tokens));
    std::vector<std::vector<int32_t>> drawn;  // each setting's tokens, drawn again below
    for (const Setting& s : settings) {
      const GenerateOptions o{
          .sampler = s.sampler, .max_new_tokens = new_tokens, .context = ContextPolicy::Slide};
      const GenerateResult r = generate(*m.decoder, *m.tokenizer, ids, o);
      std::printf("%-24s | %s\n", s.label, one_line(r.text).c_str());
      drawn.push_back(r.tokens);
    }
    // A sampler's draws are a function of its seed alone: every setting,
    // drawn again by a fresh sampler, repeats itself token for token.
    bool repeats = true;
    for (std::size_t i = 0; i < drawn.size(); ++i) {
      const GenerateOptions again{.sampler = settings[i].sampler,
                                  .max_new_tokens = new_tokens,
                                  .context = ContextPolicy::Slide};
      repeats = repeats && generate(*m.decoder, *m.tokenizer, ids, again).tokens == drawn[i];
    }
    std::printf("\nevery setting drawn again with seed 7: %s\n",
                repeats ? "the same tokens" : "DIFFERENT tokens (a bug!)");
    const bool same = cache_speedup(*m.decoder, ids, quick ? 32 : 128);
    if (!repeats || !same) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "07_sampling: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
