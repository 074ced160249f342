// Lesson 04: one forward pass through GPT-2, shape by shape.
//
// What it teaches: a GPT is a short recipe repeated. Token ids become
// vectors (wte), learn where they sit (wpe), then pass through n_layer
// identical blocks, each letting tokens look back at earlier tokens
// (attention) and then think on their own (MLP). A final LayerNorm and the
// token table again (tied head) turn each vector into one score per
// vocabulary entry: the logits of the next token. We run the `tiny` size
// (4 layers, 4 heads, 128 dims, block 64) step by step through its modules,
// print every intermediate shape, check we got exactly what GPT::forward
// gives, and count where the parameters live. Then the same model runs
// through nn/gpt_naive.h, the whole forward pass as plain double loops over
// std::vector, and the lesson checks that the fast float32 model agrees with
// it to 1e-4 (float32 keeps about 7 digits; the difference is rounding only).
// Every claim it prints is checked (shapes, the exact match, the loss at
// init, the parameter formula); a false one makes the run exit 1.
//
// Pipeline position: text -> tokens -> tensors -> [model] -> samples.
// Run: build/release/lessons/04_gpt_forward
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "nn/gpt.h"
#include "nn/gpt_naive.h"
#include "tensor/ops.h"

using namespace cpurich;

namespace {

// Every claim the lesson prints is also checked; a false one fails the run.
int failed_claims = 0;
void claim(bool holds, const std::string& what) {
  if (!holds) {
    std::printf("CLAIM FAILED: %s\n", what.c_str());
    ++failed_claims;
  }
}

void show(const std::string& step, const Var& v, const std::string& why) {
  std::printf("  %-34s %-16s %s\n", step.c_str(), shape_str(v.shape()).c_str(), why.c_str());
}

void count(const std::string& name, const Module& m, int64_t total) {
  const int64_t n = m.num_parameters();
  std::printf("  %-22s %10lld  %5.1f%%\n", name.c_str(), static_cast<long long>(n),
              100.0 * static_cast<double>(n) / static_cast<double>(total));
}

// One Block::forward written out; prints the shapes when verbose.
Var block_by_hand(const Block& blk, const Var& x0, int64_t n_head, bool verbose) {
  const Var a_in = blk.ln_1.forward(x0);
  const Var qkv = blk.attn.c_attn.forward(a_in);
  const Var att = ag::causal_self_attention(qkv, n_head);
  const Var a_out = blk.attn.c_proj.forward(att);
  const Var x1 = ag::add(x0, a_out);
  const Var m_in = blk.ln_2.forward(x1);
  const Var hid = blk.mlp.c_fc.forward(m_in);
  const Var act = ag::gelu(hid);
  const Var m_out = blk.mlp.c_proj.forward(act);
  const Var x2 = ag::add(x1, m_out);
  if (!verbose) return x2;
  const int64_t C = x0.shape().back();
  show("  ln_1(x)", a_in, "each token normalised to mean 0, var 1");
  show("  c_attn", qkv, "[q | k | v] side by side");
  show("  causal_self_attention", att,
       std::to_string(n_head) + " heads of " + std::to_string(C / n_head) + " dims, concatenated");
  show("  attn.c_proj", a_out, "mix the heads");
  show("  x + attn", x1, "residual add");
  show("  ln_2(x)", m_in, "");
  show("  mlp.c_fc", hid, "widen 4x");
  show("  gelu", act, "the nonlinearity");
  show("  mlp.c_proj", m_out, "back to C");
  show("  x + mlp", x2, "residual add");
  const Shape bt = {x0.shape()[0], x0.shape()[1]};
  auto bt_by = [&bt](int64_t last) { return Shape{bt[0], bt[1], last}; };
  claim(qkv.shape() == bt_by(3 * C) && att.shape() == bt_by(C) && hid.shape() == bt_by(4 * C) &&
            x2.shape() == x0.shape(),
        "a block keeps (B, T, C); c_attn gives (B, T, 3C), mlp.c_fc (B, T, 4C)");
  return x2;
}

// The body of GPT::forward written out, printing as it goes.
Var forward_by_hand(const GPT& model, const std::vector<int32_t>& ids, int64_t B, int64_t T) {
  const GPTConfig& c = model.config();
  const int64_t C = c.n_embd;
  std::printf("\nForward pass, B=%lld sequences of T=%lld tokens:\n", static_cast<long long>(B),
              static_cast<long long>(T));
  Var tok = model.wte().forward(ids);
  show("wte[ids]", tok, "one row of wte per token");
  tok = ag::reshape(tok, {B, T, C});
  show("  reshape (a view, no copy)", tok, "");
  std::vector<int32_t> positions(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) positions[static_cast<size_t>(t)] = static_cast<int32_t>(t);
  const Var pos = model.wpe().forward(positions);
  show("wpe[0..T)", pos, "one row per position, shared by the batch");
  Var x = ag::add(tok, pos);
  show("x = tok + pos", x, "broadcast over B: the residual stream");
  for (size_t l = 0; l < model.h().size(); ++l) {
    if (l == 0)
      std::printf("  block h.0 (the other %zu blocks are the same):\n", model.h().size() - 1);
    x = block_by_hand(model.h()[l], x, c.n_head, l == 0);
  }
  x = model.ln_f().forward(x);
  show("ln_f(x)", x, "after all blocks");
  const Var flat = ag::reshape(x, {B * T, C});
  show("  reshape (a view)", flat, "");
  const Var logits = ag::matmul(flat, model.wte().weight, false, true);
  show("x @ wte^T", logits, "tied head: a score per vocabulary entry");
  claim(logits.shape() == Shape{B * T, c.vocab_size}, "one score per vocabulary entry per token");
  return ag::reshape(logits, {B, T, c.vocab_size});
}

// Parameters per module, as a share of the total.
void print_parameter_counts(const GPT& model) {
  const int64_t total = model.num_parameters();
  std::printf("\nWhere the %lld parameters live:\n", static_cast<long long>(total));
  count("wte (V x C)", model.wte(), total);
  count("wpe (P x C)", model.wpe(), total);
  const Block& b0 = model.h()[0];
  for (size_t l = 0; l < model.h().size(); ++l)
    count("h." + std::to_string(l), model.h()[l], total);
  std::printf("  inside one block:\n");
  count("  ln_1", b0.ln_1, total);
  count("  ln_2", b0.ln_2, total);
  count("  attn.c_attn", b0.attn.c_attn, total);
  count("  attn.c_proj", b0.attn.c_proj, total);
  count("  mlp.c_fc", b0.mlp.c_fc, total);
  count("  mlp.c_proj", b0.mlp.c_proj, total);
  count("ln_f", model.ln_f(), total);
  std::printf("  non-embedding: %lld = n_layer * (12 C^2 + 13 C) + 2C\n",
              static_cast<long long>(model.num_parameters_non_embedding()));
  // The formula from the shapes: per block ln_1 + ln_2 = 4C, c_attn C*3C + 3C,
  // attn.c_proj C*C + C, mlp.c_fc C*4C + 4C, mlp.c_proj 4C*C + C; ln_f 2C.
  const GPTConfig& c = model.config();
  const int64_t C = c.n_embd;
  const int64_t non_embedding = c.n_layer * (12 * C * C + 13 * C) + 2 * C;
  claim(model.num_parameters_non_embedding() == non_embedding,
        "non-embedding = n_layer * (12 C^2 + 13 C) + 2C");
  claim(total == non_embedding + (c.vocab_size + c.n_positions) * C,
        "total = non-embedding + (V + P) * C: the tied head adds no parameters");
  int64_t modules =
      model.wte().num_parameters() + model.wpe().num_parameters() + model.ln_f().num_parameters();
  for (const Block& b : model.h()) modules += b.num_parameters();
  const int64_t parts = b0.ln_1.num_parameters() + b0.ln_2.num_parameters() +
                        b0.attn.c_attn.num_parameters() + b0.attn.c_proj.num_parameters() +
                        b0.mlp.c_fc.num_parameters() + b0.mlp.c_proj.num_parameters();
  claim(modules == total && parts == b0.num_parameters(),
        "the rows above add up: modules to the total, a block's parts to the block");
}

}  // namespace

int main() {
  GPTConfig cfg;  // the defaults are the `tiny` size
  std::printf("GPT-2 `tiny`: n_layer=%lld n_head=%lld n_embd=%lld n_positions=%lld vocab=%lld\n",
              static_cast<long long>(cfg.n_layer), static_cast<long long>(cfg.n_head),
              static_cast<long long>(cfg.n_embd), static_cast<long long>(cfg.n_positions),
              static_cast<long long>(cfg.vocab_size));
  GPT model(cfg, 1337);

  // Byte-level "tokenizer": each byte of the text is one id in [0, 256).
  const std::string text =
      "To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
      "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles";
  const int64_t B = 2, T = cfg.n_positions;
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < B * T; ++i)
    ids.push_back(static_cast<unsigned char>(text[static_cast<size_t>(i) % text.size()]));

  NoGradGuard no_grad;  // inference only: no graph needed
  const Var by_hand = forward_by_hand(model, ids, B, T);
  const Var logits = model.forward(ids, B, T);
  const double by_hand_diff = max_abs_diff(by_hand.value(), logits.value());
  std::printf("  GPT::forward gives %s; max |difference| to the steps above = %g\n",
              shape_str(logits.shape()).c_str(), by_hand_diff);
  // The same ops in the same order: not close, identical.
  claim(logits.shape() == Shape{B, T, cfg.vocab_size} && by_hand_diff == 0.0,
        "the steps above are exactly GPT::forward, logits (B, T, V)");
  // An untrained model spreads its bets evenly: loss ~ log(vocab).
  const std::vector<int32_t> targets(ids.begin() + 1, ids.end());
  std::vector<int32_t> inputs(ids.begin(), ids.end() - 1);
  const double loss = model
                          .loss(std::span(inputs).first(static_cast<size_t>(T)),
                                std::span(targets).first(static_cast<size_t>(T)), 1, T)
                          .value()
                          .item();
  const double ln_vocab = std::log(static_cast<double>(cfg.vocab_size));
  std::printf("  next-token loss at init: %.4f nats (log(%lld) = %.4f: near-uniform guesses)\n",
              loss, static_cast<long long>(cfg.vocab_size), ln_vocab);
  // Weights drawn with std 0.02 give logits near 0, so softmax is near uniform
  // and the loss is near ln(V); a model that guessed confidently would be far off.
  claim(std::abs(loss - ln_vocab) < 0.1, "an untrained model's loss is within 0.1 nats of ln(V)");

  // The plain-loop reference, one sequence (the first row of the batch).
  const std::vector<int32_t> row(ids.begin(), ids.begin() + T);
  const naive::Mat ref = naive::gpt_logits(cfg, naive::to_doubles(model.state_dict()), row);
  double worst = 0.0;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t v = 0; v < cfg.vocab_size; ++v)
      worst = std::max(worst, std::fabs(logits.value().at({0, t, v}) -
                                        ref[static_cast<size_t>(t)][static_cast<size_t>(v)]));
  const bool agrees = worst < 1e-4;
  std::printf(
      "  naive::gpt_logits (plain double loops) vs GPT::forward (float32): max |difference| "
      "= %.2g (%s 1e-4)\n",
      worst, agrees ? "below" : "NOT below");
  claim(agrees, "the float32 model agrees with the plain-loop reference to 1e-4");

  print_parameter_counts(model);
  std::printf(
      "\nExercise: GPT-2 124M has C=768, 12 layers, V=50257, P=1024. Use the formula\n"
      "to predict its total (124,439,808) and the share held by wte.\n");
  std::printf("\n%s\n",
              failed_claims == 0 ? "every claim above checked: yes" : "some claims FAILED");
  return failed_claims == 0 ? 0 : 1;
}
