// 06_pretrain: pretrain a tiny GPT on the world corpus and watch it learn.
//
// What it teaches: the whole pretraining loop in one screen. We generate the
// built-in world corpus (fictional biographies) in memory, train a
// character-level tokenizer, and train nanoGPT's `tiny` model for a few
// hundred AdamW steps. Before training the model's samples are random
// characters (loss ~ ln(vocab) ~ 4.4 nats); after, they are English-looking
// biography sentences with names, cities and dates, although mostly wrong
// facts: a few hundred steps teach spelling and syntax first, facts last.
// The loop below is written out: step() (forward, backward, clip, AdamW),
// evaluate() every eval_every steps, one log line; Trainer::run is the same
// loop plus a log file, checkpoints and Ctrl-C. Samples use a minimal loop
// that recomputes the whole context for every new token (the KV-cache
// sampler of infer/ does the same, faster). The lesson checks that the
// validation loss starts near ln(vocab) and falls.
//
// Pipeline position: text -> tokens -> tensors -> [training] -> model -> samples.
// Run: build/release/lessons/06_pretrain [--quick] [iters]   (default 800; 60 is a quick look)
//   --quick (for ctest): 40 steps unless iters is given, shorter samples and
//   evaluations; the same claims are checked, since even 40 steps take the
//   loss well below ln(vocab).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "infer/sampling.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"
#include "train/trainer.h"
#include "train/world.h"

using namespace cpurich;

namespace {

// Appends `n` tokens to `prompt`, one forward pass per token over the last
// block_size tokens, the next token picked by the library's sampler
// (infer/sampling.h: temperature 0 = greedy, else softmax(logits / T) and a draw).
std::string generate(GPT& model, const Tokenizer& tok, const std::string& prompt, int n,
                     Sampler& sampler) {
  NoGradGuard no_grad;  // inference: record no graph
  std::vector<int32_t> ids = tok.encode(prompt);
  const int64_t block = model.config().n_positions;
  for (int i = 0; i < n; ++i) {
    const int64_t T = std::min<int64_t>(static_cast<int64_t>(ids.size()), block);
    std::span<const int32_t> ctx(ids.data() + ids.size() - T, static_cast<std::size_t>(T));
    const Tensor logits = model.forward(ctx, 1, T).value();  // (1, T, V)
    const int64_t V = logits.size(-1);
    const float* last = logits.data_f32() + (T - 1) * V;  // the next-token logits
    std::vector<float> next_logits(last, last + V);
    ids.push_back(sampler.next(next_logits, ids));
  }
  return tok.decode(ids);
}

void show_samples(Trainer& t, const std::string& prompt, const char* when, int n) {
  const int64_t V = t.model().config().vocab_size;
  Sampler greedy(SamplerOptions{.temperature = 0.0}, V);
  Sampler warm(SamplerOptions{.temperature = 0.8, .seed = 42}, V);
  std::printf("\n--- samples %s training (prompt \"%s\") ---\n", when, prompt.c_str());
  std::printf("greedy:          %s\n",
              generate(t.model(), t.tokenizer(), prompt, n, greedy).c_str());
  std::printf("temperature 0.8: %s\n", generate(t.model(), t.tokenizer(), prompt, n, warm).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int64_t iters = 0;  // 0: the mode's default
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0)
      quick = true;
    else
      iters = std::atoll(argv[i]);
  }
  if (iters == 0) iters = quick ? 40 : 800;
  if (iters < 10) {
    std::fprintf(stderr, "usage: 06_pretrain [--quick] [iters >= 10]\n");
    return 1;
  }
  const int sample_tokens = quick ? 40 : 120;
  try {
    init_threads_from_env();  // CPURICH_THREADS=N, like the cpurich program
    // 1. Text: the world corpus, generated in memory (same seed, same bytes).
    const world::World w = world::generate_world(world::WorldOptions{});
    // 2. Tokens: one id per character, 10% held out for validation.
    auto tok = std::make_unique<CharTokenizer>(CharTokenizer::train(w.corpus));
    const std::vector<int32_t> ids = tok->encode(w.corpus);
    std::printf("world corpus: %zu characters, vocabulary of %d characters\n", w.corpus.size(),
                tok->vocab_size());
    // 3. The run: nanoGPT's tiny recipe, shortened to `iters` steps.
    TrainConfig cfg = tiny_config();
    cfg.max_iters = iters;
    cfg.warmup_iters = std::min<int64_t>(100, iters / 10);
    cfg.eval_every = std::max<int64_t>(1, iters / 6);
    cfg.eval_iters = quick ? 4 : 10;
    cfg.log_every = std::max<int64_t>(1, iters / 12);
    Trainer t(cfg, std::move(tok), ids, fnv1a64(w.corpus),
              TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
    std::printf("model: %.2fM parameters, %lld steps of %lld tokens, %d threads\n",
                static_cast<double>(t.model().num_parameters()) / 1e6,
                static_cast<long long>(iters),
                static_cast<long long>(cfg.batch_size * cfg.block_size), num_threads());
    const std::string prompt = w.people[0].name + " was born";
    show_samples(t, prompt, "before", sample_tokens);
    const double start_val = t.evaluate();  // an untrained model: about ln(vocab)
    const double ln_vocab = std::log(static_cast<double>(t.tokenizer().vocab_size()));
    std::printf("\nvalidation loss before training %.3f, ln(vocab) = %.3f\n", start_val, ln_vocab);
    // 4. The loop, printing the falling loss.
    std::printf("\n--- training ---\n");
    const auto t0 = std::chrono::steady_clock::now();
    double val = start_val;
    //! [training_loop]
    while (!t.done()) {
      const StepResult r = t.step();  // B*T tokens: forward, backward, clip, AdamW
      const bool eval = t.eval_due();
      if (eval) val = t.evaluate();  // mean loss over eval_iters val batches, no graph
      if (!eval && r.iter % cfg.log_every != 0) continue;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("step %4lld  loss %.3f  lr %.1e  %5.1fs", static_cast<long long>(r.iter), r.loss,
                  r.lr, s);
      if (eval) std::printf("  val loss %.3f", val);
      std::printf("\n");
      std::fflush(stdout);
    }
    //! [training_loop]
    show_samples(t, prompt, "after", sample_tokens);
    // The claims: an untrained model is close to uniform, a trained one is not.
    const bool starts_uniform = std::abs(start_val - ln_vocab) < 0.5;
    const bool learned = val < start_val;
    std::printf(
        "\nstart within 0.5 nats of ln(vocab): %s; validation loss %.3f -> %.3f, fell: %s\n",
        starts_uniform ? "yes" : "NO", start_val, val, learned ? "yes" : "NO");
    if (!starts_uniform || !learned) return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "06_pretrain: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
