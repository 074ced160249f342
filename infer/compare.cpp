// compare.cpp: a model against its quantized variants (see compare.h).
//
// Per-position logits come from the Decoder fed one token at a time: its
// append() returns only the last position's logits, and a step per token is
// the same math as a prefill (the KV cache holds exactly what the prefill's
// causal attention would see), computed by the variant's packed kernels.
#include "infer/compare.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "infer/qa_eval.h"
#include "nn/evaluate.h"
#include "nn/gpt.h"
#include "nn/quant_io.h"

namespace cpurich {

namespace {

bool same_config(const GPTConfig& a, const GPTConfig& b) {
  return a.n_layer == b.n_layer && a.n_head == b.n_head && a.n_embd == b.n_embd &&
         a.n_positions == b.n_positions && a.vocab_size == b.vocab_size &&
         a.layer_norm_epsilon == b.layer_norm_epsilon;
}

int32_t argmax(std::span<const float> v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

/// log softmax of logits (V,) in double: l_i - max - log sum_j exp(l_j - max).
void log_softmax(std::span<const float> logits, std::vector<double>& out) {
  out.resize(logits.size());
  const double m = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) sum += std::exp(logits[i] - m);
  const double log_z = m + std::log(sum);
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - log_z;
}

/// Bits per weight over the 2-D weight matrices: quantized ones by their
/// bytes, the rest at 32.
double matrix_bits_per_weight(const GPT& model, const std::map<std::string, QuantMatrix>& q) {
  double bits = 0.0, weights = 0.0;
  for (const WeightMatrix& m : weight_matrices(model)) {
    const double n = static_cast<double>(m.rows * m.cols);
    const auto it = q.find(m.name);
    bits += it == q.end() ? 32.0 * n : 8.0 * static_cast<double>(it->second.data.size());
    weights += n;
  }
  return bits / weights;
}

std::string format_name(const std::map<std::string, QuantMatrix>& q) {
  std::string name;
  for (const auto& [n, m] : q) {
    const std::string f(quant_format_info(m.format).name);
    name = name.empty() || name == f ? f : "mixed";
  }
  return name.empty() ? "fp32" : name;
}

/// Greedy decode of n tokens after a short prompt; tokens per second of the
/// decode steps alone (the prefill is not timed).
double decode_speed(Decoder& d, std::span<const int32_t> ids, int64_t& n) {
  d.reset();
  const auto prompt = ids.first(std::min<size_t>(ids.size(), 8));
  n = std::min<int64_t>(n, d.remaining() - static_cast<int64_t>(prompt.size()));
  if (n <= 0) return 0.0;
  int32_t next = argmax(d.append(prompt));
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) next = argmax(d.step(next));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s > 0 ? static_cast<double>(n) / s : 0.0;
}

double qa_accuracy(Decoder& d, const Tokenizer& tok, std::span<const QAItem> qa,
                   int64_t max_new_tokens) {
  int64_t correct = 0;
  for (const QAItem& item : qa)
    correct += normalize_answer(greedy_answer(d, tok, item.prompt, max_new_tokens)) ==
               normalize_answer(item.answer);
  return qa.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(qa.size());
}

}  // namespace

double kl_from_logits(std::span<const float> p_logits, std::span<const float> q_logits) {
  if (p_logits.size() != q_logits.size() || p_logits.empty())
    throw std::invalid_argument("kl_from_logits: logit vectors differ in size or are empty");
  std::vector<double> lp, lq;
  log_softmax(p_logits, lp);
  log_softmax(q_logits, lq);
  double kl = 0.0;
  for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return std::max(kl, 0.0);  // >= 0 in exact math; rounding may dip below by ~1e-16
}

KLStats next_token_kl(Decoder& reference, Decoder& variant, std::span<const int32_t> ids,
                      int64_t block, int64_t max_positions) {
  if (!same_config(reference.config(), variant.config()))
    throw std::invalid_argument("next_token_kl: the two models have different configs");
  const int64_t P = reference.config().n_positions;
  const int64_t b = block == 0 ? P : block;
  if (b < 1 || b > P)
    throw std::invalid_argument("next_token_kl: block " + std::to_string(b) +
                                " must be in [1, n_positions = " + std::to_string(P) + "]");
  const auto n = static_cast<int64_t>(ids.size());
  if (n < 2) throw std::invalid_argument("next_token_kl: need at least 2 token ids");
  const int64_t limit = max_positions > 0 ? std::min(max_positions, n - 1) : n - 1;
  std::vector<double> kls;
  kls.reserve(static_cast<size_t>(limit));
  int64_t same = 0;
  // Window w = ids[w*b .. min(w*b+b, n-1)]; its positions predict ids[w*b+1 ..].
  for (int64_t start = 0; start < n - 1 && static_cast<int64_t>(kls.size()) < limit; start += b) {
    reference.reset();
    variant.reset();
    const int64_t end = std::min(start + b, n - 1);  // last predicted id
    for (int64_t t = start; t < end && static_cast<int64_t>(kls.size()) < limit; ++t) {
      const auto p = reference.step(ids[t]);
      const auto q = variant.step(ids[t]);
      kls.push_back(kl_from_logits(p, q));
      same += argmax(p) == argmax(q);
    }
  }
  KLStats s;
  s.positions = static_cast<int64_t>(kls.size());
  double sum = 0.0;
  for (double k : kls) sum += k;
  s.mean = sum / static_cast<double>(s.positions);
  s.same_top1 = static_cast<double>(same) / static_cast<double>(s.positions);
  // Nearest rank: the smallest value with at least 99% of positions <= it.
  std::sort(kls.begin(), kls.end());
  const auto rank = static_cast<size_t>(std::ceil(0.99 * static_cast<double>(kls.size())));
  s.p99 = kls[std::max<size_t>(rank, 1) - 1];
  return s;
}

std::vector<VariantReport> compare_models(const std::string& model_dir,
                                          const std::vector<std::string>& variant_dirs,
                                          std::span<const int32_t> ids, std::span<const QAItem> qa,
                                          const Tokenizer& tokenizer,
                                          const CompareOptions& options) {
  std::map<std::string, QuantMatrix> ref_q;
  GPT ref_model = load_model(model_dir, ref_q);
  Decoder reference(ref_model, ref_q);
  const auto file_bytes = [](const std::string& dir) {
    return static_cast<int64_t>(std::filesystem::file_size(dir + "/model.safetensors"));
  };
  const int64_t ref_bytes = file_bytes(model_dir);

  std::vector<VariantReport> rows;
  auto measure = [&](const std::string& dir, GPT& model, Decoder& decoder,
                     const std::map<std::string, QuantMatrix>& q, bool is_reference) {
    VariantReport r;
    r.dir = dir;
    r.format = format_name(q);
    r.bits_per_weight = matrix_bits_per_weight(model, q);
    r.file_bytes = file_bytes(dir);
    r.size_ratio = static_cast<double>(r.file_bytes) / static_cast<double>(ref_bytes);
    const EvalResult e = evaluate_ids(model, ids, options.block, options.batch);
    r.loss = e.loss;
    r.loss_tokens = e.tokens;
    r.delta_loss_pct = rows.empty() ? 0.0 : 100.0 * (r.loss - rows[0].loss) / rows[0].loss;
    if (is_reference) {
      r.kl = {.mean = 0.0, .p99 = 0.0, .same_top1 = 1.0, .positions = 0};
    } else {
      r.kl = next_token_kl(reference, decoder, ids, options.block, options.kl_positions);
    }
    r.qa_n = static_cast<int64_t>(qa.size());
    r.qa_accuracy = qa_accuracy(decoder, tokenizer, qa, options.qa_max_new_tokens);
    r.decode_tokens = options.decode_tokens;
    r.decode_tokens_per_s = decode_speed(decoder, ids, r.decode_tokens);
    rows.push_back(r);
  };
  measure(model_dir, ref_model, reference, ref_q, true);
  for (const std::string& dir : variant_dirs) {
    std::map<std::string, QuantMatrix> q;
    GPT model = load_model(dir, q);
    if (!same_config(model.config(), ref_model.config()))
      throw std::invalid_argument("compare: " + dir + " has a different config.json from " +
                                  model_dir + " (not a variant of the same model)");
    Decoder decoder(model, q);
    measure(dir, model, decoder, q, false);
  }
  if (!rows.empty()) rows[0].kl.positions = rows.size() > 1 ? rows[1].kl.positions : 0;
  return rows;
}

}  // namespace cpurich
