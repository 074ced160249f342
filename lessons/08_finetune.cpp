// 08_finetune: full fine-tuning, LoRA and QLoRA on the same pretrained model,
// side by side in one table.
//
// What it teaches: fine-tuning is pretraining's step on different data with a
// different set of trainable tensors (train/finetune.h). We pretrain a small
// character model briefly on the world corpus, then teach three copies of it
// to answer questions about the train people:
//   full   every weight trains: weights + grads + AdamW's two moments = 16
//          bytes per parameter.
//   lora   the base is frozen; only A (r, in) and B (out, r) per adapted
//          Linear train (nn/lora.h): W x + s B A x, s = alpha / r.
//   qlora  lora on a base held as NF4 (nn/qlora.h): 4-bit codes plus one
//          absmax per 64 weights, so the frozen base shrinks ~7x.
// The table shows what each costs (trainable parameters, bytes of weights +
// grads + optimizer state computed from the parameter counts, time) and what
// it buys (answer loss before -> after, exact-match accuracy on train and test
// questions: infer/qa_eval.h's normalisation). A briefly pretrained model
// memorises train answers a little and extracts test answers hardly at all:
// knowledge must be read in pretraining (lesson 09) before fine-tuning can
// expose it.
//
// Pipeline position: pretrained model + Q/A -> [fine-tuning] -> answers.
// Exercise: LoraOptions{.rank = 32}: how do the share and the answer loss move?
// Run: build/release/lessons/08_finetune [--quick]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "infer/qa_eval.h"
#include "nn/qlora.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_char.h"
#include "train/finetune.h"
#include "train/sft_data.h"
#include "train/trainer.h"
#include "train/world.h"

using namespace cpurich;

namespace {

// The model's greedy answer to `question`: the chat prompt, then the most
// likely token until a newline, recomputing the context each token (works for
// every method, adapters and NF4 base included, since it is model.forward).
std::string answer(GPT& model, const Tokenizer& tok, const std::string& question) {
  NoGradGuard no_grad;
  std::vector<int32_t> ids = tok.encode(sft_prompt(question));
  const int64_t block = model.config().n_positions;
  std::string out;
  for (int i = 0; i < 32 && static_cast<int64_t>(ids.size()) < block; ++i) {
    const int64_t T = static_cast<int64_t>(ids.size());
    const Tensor logits = model.forward(ids, 1, T).value();  // (1, T, V)
    const int64_t V = logits.size(-1);
    const float* last = logits.data_f32() + (T - 1) * V;
    int32_t best = 0;
    for (int64_t v = 1; v < V; ++v)
      if (last[v] > last[best]) best = static_cast<int32_t>(v);
    const std::string piece = tok.decode(std::vector<int32_t>{best});
    if (piece == "\n") break;
    out += piece;
    ids.push_back(best);
  }
  return out;
}

// Exact-match accuracy over the first n pairs, after qa_eval's normalisation.
double accuracy(GPT& model, const Tokenizer& tok, const std::vector<world::QA>& qas, size_t n) {
  n = std::min(n, qas.size());
  size_t right = 0;
  for (size_t i = 0; i < n; ++i)
    right +=
        normalize_answer(answer(model, tok, qas[i].question)) == normalize_answer(qas[i].answer);
  return static_cast<double>(right) / static_cast<double>(n);
}

struct Row {
  const char* name;
  int64_t trainable = 0;
  double mib = 0.0;  // weights + grads + AdamW moments
  double seconds = 0.0;
  double loss_before = 0.0, loss_after = 0.0;
  double train_acc = 0.0, test_acc = 0.0;
  int64_t base_bytes = 0, base_weights = 0;  // qlora's NF4 base
};

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  try {
    init_threads_from_env();
    // 1. The world: people, their biographies (pretraining text) and Q/A.
    const world::World w = world::generate_world(world::WorldOptions{.people = quick ? 30 : 200});
    auto tok_owned = std::make_unique<CharTokenizer>(CharTokenizer::train(w.corpus));
    const std::vector<int32_t> ids = tok_owned->encode(w.corpus);
    std::printf("world: %zu people, %zu characters, %zu train Q/A, %zu test Q/A\n", w.people.size(),
                w.corpus.size(), w.qa_train.size(), w.qa_test.size());

    // 2. Pretrain briefly: 2 layers, 256 dims, 96-character context.
    TrainConfig cfg;
    cfg.n_layer = 2;
    cfg.n_head = 4;
    cfg.n_embd = 256;  // wide enough that rank-8 adapters are a small share
    cfg.block_size = 96;
    cfg.batch_size = 8;
    cfg.max_iters = quick ? 20 : 400;
    cfg.warmup_iters = cfg.max_iters / 10;
    cfg.learning_rate = 3e-3;
    cfg.min_lr = 3e-4;
    cfg.eval_every = cfg.max_iters;
    cfg.eval_iters = quick ? 2 : 5;
    Trainer t(cfg, std::move(tok_owned), ids, fnv1a64(w.corpus),
              TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
    while (!t.done()) t.step();
    const Tokenizer& tok = t.tokenizer();
    std::printf("pretrained %lld parameters for %lld steps: val loss %.3f\n",
                static_cast<long long>(t.model().num_parameters()),
                static_cast<long long>(cfg.max_iters), t.evaluate());

    // 3. The fine-tuning data: train people's Q/A in the chat format, tokenized.
    std::vector<QAPair> pairs;
    for (const world::QA& qa : w.qa_train)
      pairs.push_back(QAPair{.question = qa.question, .answer = qa.answer, .group = "train"});
    const SftData data = build_sft_data(pairs, tok, cfg.block_size);
    std::printf("fine-tuning data: %lld examples, %lld answer tokens\n",
                static_cast<long long>(data.examples.size()),
                static_cast<long long>(data.stats.answer_tokens));

    // 4. Three runs, each on its own copy of the pretrained weights.
    const auto base_weights = t.model().state_dict();
    const int64_t P = t.model().num_parameters();
    const size_t n_eval = quick ? 4 : 50;
    const int64_t iters = quick ? 15 : 200;
    std::vector<Row> rows;
    for (const FinetuneMethod m :
         {FinetuneMethod::Full, FinetuneMethod::Lora, FinetuneMethod::QLora}) {
      GPT model(t.model().config(), 0);
      model.load_state_dict(base_weights);
      FinetuneOptions o{.method = m, .lora = LoraOptions{.rank = 8, .alpha = 16.0}};
      o.iters = iters;
      o.lr = m == FinetuneMethod::Full ? 1e-3 : 3e-3;  // a small model takes larger steps
      FineTuner ft(model, data, o);
      Row r{.name = m == FinetuneMethod::Full   ? "full"
                    : m == FinetuneMethod::Lora ? "lora r=8"
                                                : "qlora r=8 nf4"};
      r.trainable = ft.trainable_parameters();
      r.base_bytes = ft.qlora_stats().base_bytes;
      r.base_weights = ft.qlora_stats().base_weights;
      // Bytes: frozen weights once (f32 or NF4), trainable ones 4 (weight) +
      // 4 (grad) + 8 (AdamW m, v) each. Full: every parameter trains.
      const int64_t frozen = m == FinetuneMethod::Full ? 0 : P - r.base_weights;
      const double bytes = static_cast<double>(m == FinetuneMethod::Full ? 0 : frozen * 4) +
                           static_cast<double>(r.base_bytes) +
                           16.0 * static_cast<double>(r.trainable);
      r.mib = bytes / (1024.0 * 1024.0);
      r.loss_before = ft.dataset_loss();
      const auto t0 = std::chrono::steady_clock::now();
      for (int64_t i = 0; i < iters; ++i) ft.step();
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      r.loss_after = ft.dataset_loss();
      r.train_acc = accuracy(model, tok, w.qa_train, n_eval);
      r.test_acc = accuracy(model, tok, w.qa_test, n_eval);
      rows.push_back(r);
    }

    // 5. The table.
    std::printf("\n%lld steps of %lld examples each; accuracy on the first %zu train / test Q/A\n",
                static_cast<long long>(iters), static_cast<long long>(FinetuneOptions{}.batch),
                n_eval);
    std::printf("%-14s %10s %7s %9s %7s %15s %6s %6s\n", "method", "trainable", "share", "W+G+opt",
                "time", "answer loss", "train", "test");
    for (const Row& r : rows)
      std::printf("%-14s %10lld %6.2f%% %6.2fMiB %6.1fs %6.3f -> %6.3f %5.0f%% %5.0f%%\n", r.name,
                  static_cast<long long>(r.trainable),
                  100.0 * static_cast<double>(r.trainable) / static_cast<double>(P), r.mib,
                  r.seconds, r.loss_before, r.loss_after, 100.0 * r.train_acc, 100.0 * r.test_acc);

    // 6. The claims.
    bool ok = true;
    const double lora_share = static_cast<double>(rows[1].trainable) / static_cast<double>(P);
    const double nf4_ratio =
        static_cast<double>(rows[2].base_bytes) / (4.0 * static_cast<double>(rows[2].base_weights));
    std::printf("\nLoRA trains %.2f%% of the parameters (< 5%%): %s\n", 100.0 * lora_share,
                lora_share < 0.05 ? "yes" : "NO");
    ok &= lora_share < 0.05;
    std::printf("QLoRA's NF4 base: %lld bytes for %lld weights = %.3f of fp32 (<= 1/6): %s\n",
                static_cast<long long>(rows[2].base_bytes),
                static_cast<long long>(rows[2].base_weights), nf4_ratio,
                nf4_ratio <= 1.0 / 6.0 ? "yes" : "NO");
    ok &= rows[2].base_weights > 0 && nf4_ratio <= 1.0 / 6.0;
    for (const Row& r : rows) {
      const bool fell = r.loss_after < r.loss_before;
      std::printf("%s lowers the answer loss: %s\n", r.name, fell ? "yes" : "NO");
      ok &= fell;
    }
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "08_finetune: error: %s\n", e.what());
    return 1;
  }
}
