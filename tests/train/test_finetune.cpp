// test_finetune.cpp: the fine-tuning loop: LoRA, QLoRA and full fine-tuning
// lower the masked loss on a tiny Q/A set, LoRA and QLoRA leave the base
// bytes (f32, or NF4) unchanged and train only the adapters, the same seed
// gives the same losses at 1 and 2 threads, and bad options are refused.
#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "nn/gpt.h"
#include "nn/lora.h"
#include "tensor/ops.h"
#include "tensor/quant_formats.h"
#include "tensor/threads.h"
#include "train/finetune.h"
#include "train/sft_data.h"
#include "train_test_util.h"

using namespace cpurich;
using Catch::Matchers::Contains;

namespace {

const std::string kAlphabet =
    "### Human: Assistant:\nabcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789?,.";

std::vector<QAPair> tiny_pairs() {
  return {{.question = "Where is Ann?", .answer = "Ironvale", .group = "", .where = "1"},
          {.question = "Where is Bob?", .answer = "Port Amberly", .group = "", .where = "2"},
          {.question = "What is Cy?", .answer = "a baker", .group = "", .where = "3"},
          {.question = "What is Di?", .answer = "a pilot", .group = "", .where = "4"}};
}

GPTConfig tiny_model(int32_t vocab) {
  return GPTConfig{.n_layer = 2, .n_head = 2, .n_embd = 32, .n_positions = 48, .vocab_size = vocab};
}

std::vector<double> run_losses(FinetuneMethod method, int64_t iters, GPT& model,
                               const SftData& data, double* before, double* after) {
  FinetuneOptions o{.method = method,
                    .lora = {.rank = 4, .alpha = 8},
                    .iters = iters,
                    .lr = 3e-3,
                    .batch = 4,
                    .seed = 5};
  FineTuner ft(model, data, o);
  if (before) *before = ft.dataset_loss();
  std::vector<double> losses;
  while (ft.iter() < iters) losses.push_back(ft.step().loss);
  if (after) *after = ft.dataset_loss();
  return losses;
}

struct ThreadsGuard {
  int saved = num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

}  // namespace

TEST_CASE("LoRA fine-tuning lowers the masked loss and leaves the base untouched", "[finetune]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  GPT model = test::wide_embedding_gpt(tiny_model(tok.vocab_size()), 3);
  std::map<std::string, Tensor> base;
  for (const auto& [name, t] : model.state_dict()) base[name] = t.clone();
  double before = 0, after = 0;
  run_losses(FinetuneMethod::Lora, 40, model, data, &before, &after);
  INFO("loss " << before << " -> " << after);
  CHECK(after < 0.7 * before);
  CHECK(after < std::log(static_cast<double>(tok.vocab_size())));  // better than uniform guessing
  for (const auto& [name, t] : model.state_dict()) CHECK(max_abs_diff(t, base.at(name)) == 0.0);
  CHECK(lora_modules(model).size() == 8);
}

TEST_CASE("LoRA trains r*(in+out) per adapted layer, full trains everything", "[finetune]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  GPT a(tiny_model(tok.vocab_size()), 3), b(tiny_model(tok.vocab_size()), 3);
  const FineTuner lora(a, data, {.method = FinetuneMethod::Lora, .lora = {.rank = 4}});
  // per layer: c_attn 4*(32+96), attn.c_proj 4*(32+32), c_fc 4*(32+128), mlp.c_proj 4*(128+32)
  CHECK(lora.trainable_parameters() == 2 * 4 * (128 + 64 + 160 + 160));
  CHECK(lora.options().peak_lr() == 1e-3);
  const FineTuner full(b, data, {.method = FinetuneMethod::Full});
  CHECK(full.trainable_parameters() == b.num_parameters());
  CHECK(full.options().peak_lr() == 1e-4);
}

TEST_CASE("full fine-tuning lowers the masked loss", "[finetune]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  GPT model = test::wide_embedding_gpt(tiny_model(tok.vocab_size()), 3);
  FinetuneOptions o{.method = FinetuneMethod::Full, .iters = 30, .lr = 3e-3, .batch = 4};
  FineTuner ft(model, data, o);
  const double before = ft.dataset_loss();
  while (ft.iter() < o.iters) ft.step();
  CHECK(ft.dataset_loss() < 0.7 * before);
}

TEST_CASE("fine-tuning gives the same losses at 1 and 2 threads", "[finetune][threads]") {
  ThreadsGuard guard;
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  set_num_threads(1);
  GPT m1 = test::wide_embedding_gpt(tiny_model(tok.vocab_size()), 3);
  const auto one = run_losses(FinetuneMethod::Lora, 5, m1, data, nullptr, nullptr);
  set_num_threads(2);
  GPT m2 = test::wide_embedding_gpt(tiny_model(tok.vocab_size()), 3);
  const auto two = run_losses(FinetuneMethod::Lora, 5, m2, data, nullptr, nullptr);
  CHECK(one == two);
}

TEST_CASE("fine-tuning options are validated", "[finetune][errors]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  GPT model = test::wide_embedding_gpt(tiny_model(tok.vocab_size()), 3);
  CHECK_THROWS_WITH(FineTuner(model, data, {.iters = 0}), Contains("iters"));
  CHECK_THROWS_WITH(FineTuner(model, data, {.batch = 0}), Contains("batch"));
  CHECK_THROWS_WITH(FineTuner(model, data, {.lora = {.rank = 0}}), Contains("rank"));
  CHECK(finetune_method_from_name("qlora") == FinetuneMethod::QLora);
  CHECK_THROWS_WITH(finetune_method_from_name("dora"), Contains("unknown fine-tuning method"));
  // tiny_model's n_embd 32 is not a whole NF4 block of 64.
  CHECK_THROWS_WITH(FineTuner(model, data, {.method = FinetuneMethod::QLora}),
                    Contains("multiple of NF4's block"));
  CHECK_THROWS_WITH(
      FineTuner(model, data, {.method = FinetuneMethod::QLora, .qlora = {.loftq_iters = -1}}),
      Contains("loftq"));
  const SftData wide = build_sft_data(tiny_pairs(), tok, 64);
  CHECK_THROWS_WITH(FineTuner(model, wide, {}), Contains("n_positions"));
}

namespace {

GPTConfig qlora_model(int32_t vocab) {  // n_embd a multiple of NF4's block of 64
  return GPTConfig{.n_layer = 2, .n_head = 2, .n_embd = 64, .n_positions = 48, .vocab_size = vocab};
}

std::vector<double> run_qlora(GPT& model, const SftData& data, int64_t iters, int64_t loftq,
                              std::map<std::string, std::vector<uint8_t>>* base_bytes_before,
                              double* before, double* after) {
  FinetuneOptions o{.method = FinetuneMethod::QLora,
                    .lora = {.rank = 4, .alpha = 8},
                    .qlora = {.loftq_iters = loftq},
                    .iters = iters,
                    .lr = 3e-3,
                    .batch = 4,
                    .seed = 5};
  FineTuner ft(model, data, o);
  if (base_bytes_before)
    for (const auto& [name, lin] : model.linear_modules())
      (*base_bytes_before)[name] = lin->weight_nf4->data;
  if (before) *before = ft.dataset_loss();
  std::vector<double> losses;
  while (ft.iter() < iters) losses.push_back(ft.step().loss);
  if (after) *after = ft.dataset_loss();
  return losses;
}

}  // namespace

TEST_CASE("QLoRA fine-tuning lowers the loss, the NF4 base bytes never change",
          "[finetune][qlora]") {
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  GPT model = test::wide_embedding_gpt(qlora_model(tok.vocab_size()), 3);
  std::map<std::string, Tensor>
      frozen_before;  // the f32 tensors that stay: biases, norms, embeddings
  for (const auto& [name, t] : model.state_dict())
    if (!name.ends_with("c_attn.weight") && !name.ends_with("c_proj.weight") &&
        !name.ends_with("c_fc.weight"))
      frozen_before[name] = t.clone();
  std::map<std::string, std::vector<uint8_t>> nf4_before;
  double before = 0, after = 0;
  run_qlora(model, data, 30, 0, &nf4_before, &before, &after);
  CHECK(after < 0.8 * before);
  REQUIRE(nf4_before.size() == 8);
  for (const auto& [name, lin] : model.linear_modules()) {
    INFO(name);
    CHECK_FALSE(lin->weight.defined());
    CHECK(lin->weight_nf4->data == nf4_before.at(name));
    CHECK(max_abs_diff(lin->lora->B.value(), Tensor::zeros(lin->lora->B.shape())) > 0.0);
  }
  const auto sd = model.state_dict();
  CHECK(sd.size() == frozen_before.size());  // released weights are not in the state dict
  for (const auto& [name, t] : frozen_before) CHECK(max_abs_diff(sd.at(name), t) == 0.0);
}

TEST_CASE("QLoRA (plain and LoftQ) gives the same losses at 1 and 2 threads",
          "[finetune][qlora][threads]") {
  ThreadsGuard guard;
  const test::AlphabetTokenizer tok(kAlphabet);
  const SftData data = build_sft_data(tiny_pairs(), tok, 48);
  for (int64_t loftq : {0, 2}) {
    INFO("loftq iters " << loftq);
    set_num_threads(1);
    GPT m1 = test::wide_embedding_gpt(qlora_model(tok.vocab_size()), 3);
    const auto one = run_qlora(m1, data, 4, loftq, nullptr, nullptr, nullptr);
    set_num_threads(2);
    GPT m2 = test::wide_embedding_gpt(qlora_model(tok.vocab_size()), 3);
    const auto two = run_qlora(m2, data, 4, loftq, nullptr, nullptr, nullptr);
    CHECK(one == two);
  }
}
