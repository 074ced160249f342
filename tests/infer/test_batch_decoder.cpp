// BatchDecoder: sequences decoded together give the logits they get alone:
// bitwise Decoder's for the base model in any batch, chunking and thread
// count; with adapters (same or mixed in one batch) bitwise their own solo
// runs, and within 1e-5 of a Decoder on the merged weights.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>

#include "infer/batch_decoder.h"
#include "infer/decoder.h"
#include "nn/lora.h"
#include "tensor/threads.h"
#include "test_util.h"

using namespace cpurich;

namespace {

using Logits = std::vector<float>;

// A model with a LoRA adapter attached whose B is random (not the zero of
// init), so the adapter changes the logits.
GPT adapted_model(const GPTConfig& config, uint64_t base_seed, uint64_t lora_seed,
                  std::vector<std::string> targets) {
  GPT model = test::random_model(config, base_seed);
  add_lora(model, {.rank = 3, .alpha = 6, .targets = std::move(targets), .seed = lora_seed});
  Rng rng(lora_seed + 77);
  for (const auto& [name, lin] : model.linear_modules())
    if (lin->lora) lin->lora->B.value_mut().copy_from(rng.normal(lin->lora->B.shape(), 0.0, 0.3));
  return model;
}

// The logits a solo Decoder gives after each prefix length in `after` of ids.
std::vector<Logits> solo_logits(Decoder& d, const std::vector<int32_t>& ids,
                                const std::vector<size_t>& after) {
  std::vector<Logits> out;
  size_t done = 0;
  for (const size_t n : after) {
    const auto l = d.append(std::span(ids).subspan(done, n - done));
    out.emplace_back(l.begin(), l.end());
    done = n;
  }
  return out;
}

Logits copy(std::span<const float> s) {
  return {s.begin(), s.end()};
}

// Runs three sequences through one BatchDecoder on an interleaved schedule
// (prompt chunks of one next to decode steps of another) and returns, per
// sequence, its logits after each prefix length in cut[s].
std::vector<std::vector<Logits>> batched_logits(BatchDecoder& bd,
                                                const std::vector<std::vector<int32_t>>& seqs,
                                                const std::vector<int32_t>& adapters,
                                                const std::vector<std::vector<size_t>>& cut) {
  const size_t S = seqs.size();
  std::vector<int64_t> slot(S);
  std::vector<size_t> next(S, 0), done(S, 0);
  std::vector<std::vector<Logits>> out(S);
  for (size_t s = 0; s < S; ++s) slot[s] = bd.open(adapters[s]);
  for (;;) {
    std::vector<BatchItem> items;
    std::vector<size_t> who;
    for (size_t s = 0; s < S; ++s) {
      if (next[s] == cut[s].size()) continue;
      const size_t n = cut[s][next[s]];
      items.push_back({.slot = slot[s], .ids = std::span(seqs[s]).subspan(done[s], n - done[s])});
      who.push_back(s);
    }
    if (items.empty()) break;
    bd.forward(items);
    for (const size_t s : who) {
      out[s].push_back(copy(bd.logits(slot[s])));
      done[s] = cut[s][next[s]++];
    }
  }
  for (size_t s = 0; s < S; ++s) bd.close(slot[s]);
  return out;
}

const std::vector<std::vector<int32_t>> kSeqs = {{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7},
                                                 {2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5},
                                                 {1, 4, 1, 4, 2, 1, 3, 5, 6, 2, 3, 7, 3, 0, 9, 5}};
// Chunked prefill, then one token per step: sequence 0 prefills in chunks of
// 5 and 4 while sequence 1 is already decoding, sequence 2 in one chunk.
const std::vector<std::vector<size_t>> kCuts = {
    {5, 9, 10, 11, 12, 13, 14}, {3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {11, 12, 13, 14, 15, 16}};

}  // namespace

TEST_CASE("batched base logits equal solo Decoder logits bit for bit") {
  const auto config = test::small_config(32, 20);
  const GPT model = test::random_model(config, 21);
  BatchDecoder bd(model, {.max_slots = 4, .max_rows = 24});
  const auto got = batched_logits(bd, kSeqs, {-1, -1, -1}, kCuts);
  for (size_t s = 0; s < kSeqs.size(); ++s) {
    Decoder d(model);
    const auto want = solo_logits(d, kSeqs[s], kCuts[s]);
    REQUIRE(got[s].size() == want.size());
    for (size_t i = 0; i < want.size(); ++i) CHECK(got[s][i] == want[i]);
  }
  CHECK(bd.free_slots() == 4);
}

TEST_CASE("batched logits with mixed adapters equal solo runs and the merged model") {
  const auto config = test::small_config(32, 20);
  const std::vector<std::string> all = {"c_attn", "c_proj", "c_fc"};
  GPT a_model = adapted_model(config, 22, 1, all);
  GPT b_model = adapted_model(config, 22, 2, {"c_attn", "mlp.c_proj"});
  const GPT base = test::random_model(config, 22);
  BatchDecoder bd(base, {.max_slots = 3, .max_rows = 24});
  const int32_t a = bd.add_adapter(take_lora_weights(a_model));
  const int32_t b = bd.add_adapter(take_lora_weights(b_model));
  CHECK(lora_modules(a_model).empty());  // taken: the models are plain bases again
  // Merged references: the same adapters folded into W.
  GPT a_merged = adapted_model(config, 22, 1, all),
      b_merged = adapted_model(config, 22, 2, {"c_attn", "mlp.c_proj"});
  merge_lora(a_merged);
  merge_lora(b_merged);

  const std::vector<int32_t> adapters = {a, -1, b};
  const auto mixed = batched_logits(bd, kSeqs, adapters, kCuts);
  const auto same = batched_logits(bd, kSeqs, {a, a, a}, kCuts);
  for (size_t s = 0; s < kSeqs.size(); ++s) {
    // Alone in the batch decoder, one token at a time: bitwise the batched run.
    std::vector<size_t> one_by_one;
    for (size_t n = 1; n <= kCuts[s].back(); ++n) one_by_one.push_back(n);
    const auto alone = batched_logits(bd, {kSeqs[s]}, {adapters[s]}, {one_by_one});
    for (size_t i = 0; i < kCuts[s].size(); ++i) CHECK(mixed[s][i] == alone[0][kCuts[s][i] - 1]);
    // The merged model computes W' = W + s A^T B^T once: other roundings.
    const GPT& ref_model = adapters[s] == a ? a_merged : adapters[s] == b ? b_merged : base;
    Decoder d(ref_model);
    const auto want = solo_logits(d, kSeqs[s], kCuts[s]);
    Decoder da(a_merged);
    const auto want_a = solo_logits(da, kSeqs[s], kCuts[s]);
    for (size_t i = 0; i < want.size(); ++i) {
      for (size_t v = 0; v < want[i].size(); ++v) {
        CHECK(std::fabs(mixed[s][i][v] - want[i][v]) <=
              1e-5 * std::max(1.0f, std::fabs(want[i][v])));
        CHECK(std::fabs(same[s][i][v] - want_a[i][v]) <=
              1e-5 * std::max(1.0f, std::fabs(want_a[i][v])));
      }
    }
    // The adapter really changes the output (a test that could fail).
    if (adapters[s] >= 0) {
      Decoder plain(base);
      CHECK(solo_logits(plain, kSeqs[s], kCuts[s]).back() != mixed[s].back());
    }
  }
}

TEST_CASE("batched logits do not depend on the thread count") {
  const auto config = test::small_config(32, 20);
  GPT a_model = adapted_model(config, 23, 5, {"c_fc"});
  const GPT base = test::random_model(config, 23);
  const int before = num_threads();
  std::vector<std::vector<std::vector<Logits>>> runs;
  for (const int threads : {1, 2, 3}) {
    set_num_threads(threads);
    BatchDecoder bd(base, {.max_slots = 3, .max_rows = 24});
    bd.set_parallel_threshold(0);
    GPT m = adapted_model(config, 23, 5, {"c_fc"});
    const int32_t a = bd.add_adapter(take_lora_weights(m));
    runs.push_back(batched_logits(bd, kSeqs, {a, -1, a}, kCuts));
  }
  set_num_threads(before);
  CHECK(runs[0] == runs[1]);
  CHECK(runs[0] == runs[2]);
}

TEST_CASE("batch decoder rejects bad input before computing anything") {
  const auto config = test::small_config(8, 20);
  const GPT model = test::random_model(config, 24);
  BatchDecoder bd(model, {.max_slots = 2, .max_rows = 6});
  const int64_t s0 = bd.open(), s1 = bd.open();
  CHECK_THROWS_WITH(bd.open(), Catch::Contains("all 2 slots are in use"));
  CHECK_THROWS_WITH(bd.open(3), Catch::Contains("unknown adapter 3"));
  const std::vector<int32_t> ok = {1, 2, 3}, bad = {1, 20}, four = {1, 2, 3, 4};
  CHECK_THROWS_WITH(
      bd.forward(std::vector<BatchItem>{{.slot = s0, .ids = ok}, {.slot = s1, .ids = bad}}),
      Catch::Contains("token id 20 outside [0, 20)"));
  CHECK(bd.length(s0) == 0);  // nothing half-applied
  CHECK_THROWS_WITH(
      bd.forward(std::vector<BatchItem>{{.slot = s0, .ids = ok}, {.slot = s1, .ids = four}}),
      Catch::Contains("7 rows exceed max_rows 6"));
  CHECK_THROWS_WITH(
      bd.forward(std::vector<BatchItem>{{.slot = s0, .ids = ok}, {.slot = s0, .ids = ok}}),
      Catch::Contains("appears twice"));
  bd.forward(std::vector<BatchItem>{{.slot = s0, .ids = ok}, {.slot = s1, .ids = ok}});
  bd.forward(std::vector<BatchItem>{{.slot = s0, .ids = four}});
  CHECK_THROWS_WITH(bd.forward(std::vector<BatchItem>{{.slot = s0, .ids = ok}}),
                    Catch::Contains("exceed the context of 8"));
  bd.close(s1);
  CHECK_THROWS_WITH(bd.forward(std::vector<BatchItem>{{.slot = s1, .ids = ok}}),
                    Catch::Contains("slot 1 is not open"));
  CHECK(bd.open() == s1);
  CHECK(bd.length(s1) == 0);  // a reopened slot starts empty
  LoraWeights wrong;
  wrong["h.0.attn.c_attn"] =
      LoraFactors{.rank = 1, .A = std::vector<float>(32), .B = std::vector<float>(5)};
  CHECK_THROWS_WITH(bd.add_adapter(wrong), Catch::Contains("do not fit"));
  LoraWeights unknown;
  unknown["h.9.mlp.c_fc"] = LoraFactors{.rank = 1};
  CHECK_THROWS_WITH(bd.add_adapter(unknown), Catch::Contains("unknown"));
}
