// 09_knowledge: what a tiny GPT stores from biographies, what a fine-tune
// gets out of it, and what it makes up.
//
// What it teaches: knowledge storage and extraction (Allen-Zhu & Li, "Physics
// of Language Models, Part 3.1") in four measurements on a small world
// (train/world.h): train people (biographies read, questions fine-tuned on),
// test people (biographies read, questions never seen), unseen people (never
// read about). Each person's 8 facts are asked as questions and graded by
// exact match of the greedy answer (infer/qa_eval.h).
//   1. Pretraining stores: the corpus mixes the train Q/A in, so right after
//      pretraining the model already answers some questions. Test people show
//      whether the facts were stored in a form a question can reach.
//   2. Fine-tuning extracts: a LoRA fine-tune on the train Q/A (and on
//      "I don't know." for some absent people) sharpens the answer format.
//   3. The model makes things up: for unseen people every answer that is not
//      "I don't know." is invented (the hallucination rate). Abstention
//      examples lower it, at the price of some abstention on known people.
//   4. One biography versus many: the same people described once instead of
//      8 times in 8 phrasings. Knowledge augmentation is what makes facts
//      extractable; with a single biography test accuracy stays low.
// Every sentence names the person (WorldOptions::name_every_sentence), so a
// fact and its name always share a context window.
//
// Pipeline position: world corpus -> pretrain -> [qa-eval, fine-tune, qa-eval].
// Run: build/release/lessons/09_knowledge [--quick]  (quick: a few steps, for ctest)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "infer/decoder.h"
#include "infer/qa_eval.h"
#include "nn/lora.h"
#include "tensor/threads.h"
#include "tokenizer/tokenizer_bpe.h"
#include "train/finetune.h"
#include "train/sft_data.h"
#include "train/trainer.h"
#include "train/world.h"

using namespace cpurich;

namespace {

struct Scores {
  QaTally train, test, unseen;
};

QaTally ask(const GPT& model, const Tokenizer& tok, const std::vector<world::QA>& qas) {
  Decoder decoder(model);
  QaTally t;
  for (const world::QA& qa : qas)
    t.add(greedy_answer(decoder, tok, sft_prompt(qa.question), 16), qa.answer);
  return t;
}

Scores ask_all(const GPT& model, const Tokenizer& tok, const world::World& w) {
  return {ask(model, tok, w.qa_train), ask(model, tok, w.qa_test), ask(model, tok, w.qa_unseen)};
}

void print_scores(const char* what, const Scores& s) {
  std::printf(
      "%-28s train %5.1f%%  test %5.1f%%  unseen: hallucinated %5.1f%%  "
      "known people: abstained %5.1f%%\n",
      what, 100 * s.train.accuracy(), 100 * s.test.accuracy(),
      100 * s.unseen.hallucination_rate(true),
      100.0 * static_cast<double>(s.train.abstained + s.test.abstained) /
          static_cast<double>(s.train.n + s.test.n));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Pretrains a small GPT on the world's corpus for `iters` steps.
std::unique_ptr<Trainer> pretrain(const world::World& w, int64_t iters) {
  BpeOptions bpe;
  bpe.vocab_size = 512;
  auto tok = std::make_unique<BpeTokenizer>(train_bpe(w.corpus, bpe));
  const std::vector<int32_t> ids = tok->encode(w.corpus);
  TrainConfig cfg = world_config();  // 2x4x128, block 128, batch 8
  cfg.max_iters = iters;
  cfg.warmup_iters = std::max<int64_t>(1, iters / 10);
  cfg.eval_every = iters;
  cfg.eval_iters = 2;
  auto t = std::make_unique<Trainer>(
      cfg, std::move(tok), ids, fnv1a64(w.corpus),
      TrainerOptions{.quiet = true, .measure_peak = false, .threads = num_threads()});
  while (!t->done()) t->step();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const int64_t iters = quick ? 20 : 1000, ft_iters = quick ? 10 : 200;
  try {
    init_threads_from_env();
    const auto t0 = std::chrono::steady_clock::now();
    // A small world: 40 people (24 train, 8 test, 8 unseen) and 8 absent
    // people whose questions teach the answer "I don't know.".
    world::WorldOptions o{.people = 40, .bios_per_person = 8, .abstain_people = 8};
    const world::World w = world::generate_world(o);
    std::printf("world: %zu people, %zu biographies, corpus %zu bytes; %s mode (%lld steps)\n",
                w.people.size(), w.bios.size(), w.corpus.size(), quick ? "quick" : "full",
                static_cast<long long>(iters));

    // 1. What pretraining stored.
    std::unique_ptr<Trainer> t = pretrain(w, iters);
    GPT& model = t->model();
    const Tokenizer& tok = t->tokenizer();
    const Scores before = ask_all(model, tok, w);
    std::printf("\n(%.0f s) after pretraining:\n", seconds_since(t0));
    print_scores("pretrained", before);

    // 2 + 3. LoRA fine-tune on the train Q/A plus the abstention examples.
    std::vector<QAPair> pairs;
    for (const world::QA& qa : w.qa_train) pairs.push_back({qa.question, qa.answer, "train", ""});
    for (const world::QA& qa : w.qa_abstain)
      pairs.push_back({qa.question, qa.answer, "abstain", ""});
    const SftData data = build_sft_data(pairs, tok, model.config().n_positions);
    FinetuneOptions fo;
    fo.iters = ft_iters;
    FineTuner ft(model, data, fo);
    const double loss_before = ft.dataset_loss();
    while (ft.iter() < fo.iters) ft.step();
    const double loss_after = ft.dataset_loss();
    merge_lora(model);
    const Scores after = ask_all(model, tok, w);
    std::printf("(%.0f s) fine-tuning loss %.3f -> %.3f\n", seconds_since(t0), loss_before,
                loss_after);
    print_scores("fine-tuned (with abstention)", after);
    std::printf(
        "  a test question:   %s -> %s (true: %s)\n", w.qa_test[0].question.c_str(),
        greedy_answer(*std::make_unique<Decoder>(model), tok, sft_prompt(w.qa_test[0].question), 16)
            .c_str(),
        w.qa_test[0].answer.c_str());
    std::printf("  an unseen person:  %s -> %s\n", w.qa_unseen[0].question.c_str(),
                greedy_answer(*std::make_unique<Decoder>(model), tok,
                              sft_prompt(w.qa_unseen[0].question), 16)
                    .c_str());

    // 4. The control: one biography per person, same steps.
    o.bios_per_person = 1;
    const world::World one = world::generate_world(o);
    std::unique_ptr<Trainer> t1 = pretrain(one, iters);
    const Scores control = ask_all(t1->model(), t1->tokenizer(), one);
    std::printf("(%.0f s) the same people, one biography each:\n", seconds_since(t0));
    print_scores("pretrained, 1 biography", control);

    // The claims. Quick mode only checks that fine-tuning fits its data; the
    // full run checks the knowledge effects.
    const bool fits = loss_after < loss_before;
    std::printf("\nfine-tuning lowered its loss: %s\n", fits ? "yes" : "NO");
    if (!fits) return 1;
    if (!quick) {
      const bool stored = before.train.accuracy() > 0.5;
      const bool abstains =
          after.unseen.hallucination_rate(true) < before.unseen.hallucination_rate(true);
      const bool augmentation = before.test.accuracy() >= control.test.accuracy();
      std::printf("pretraining stored train facts (> 50%%): %s\n", stored ? "yes" : "NO");
      std::printf("abstention examples lowered the hallucination rate: %s\n",
                  abstains ? "yes" : "NO");
      std::printf("8 biographies answer test questions at least as well as 1: %s\n",
                  augmentation ? "yes" : "NO");
      if (!stored || !abstains || !augmentation) return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "09_knowledge: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
