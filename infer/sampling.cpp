// sampling.cpp: the samplers (see sampling.h for what each one does and why).
#include "infer/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <stdexcept>
#include <string>

#include "tensor/kernels.h"

namespace cpurich {

namespace {

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// order = token ids sorted by logit, largest first (lower id first on ties):
// a strict total order, so the kept sets below never depend on sort details.
void sort_by_logit(std::span<const float> logits, std::vector<int32_t>& order, int64_t first) {
  order.resize(logits.size());
  std::iota(order.begin(), order.end(), 0);
  auto before = [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + first, order.end(), before);
}

// softmax(logits), the one row softmax of tensor/kernels.h; a -inf logit
// (filtered out) gets probability exactly 0.
std::vector<float> probabilities(std::span<const float> logits) {
  std::vector<float> prob(logits.size());
  if (!logits.empty())
    kernels::softmax_row(logits.data(), prob.data(), static_cast<int64_t>(logits.size()));
  return prob;
}

}  // namespace

void SamplerOptions::validate(int64_t vocab_size) const {
  if (!(temperature >= 0.0))  // also catches NaN
    throw std::invalid_argument("temperature must be >= 0 (0 means greedy), got " +
                                num(temperature));
  if (top_k != -1 && (top_k < 1 || top_k > vocab_size))
    throw std::invalid_argument("top-k must be between 1 and the vocabulary size " +
                                std::to_string(vocab_size) + " (or -1 for off), got " +
                                std::to_string(top_k));
  if (!(top_p > 0.0 && top_p <= 1.0))
    throw std::invalid_argument("top-p must be in (0, 1], got " + num(top_p));
  if (!(min_p >= 0.0 && min_p < 1.0))
    throw std::invalid_argument("min-p must be in [0, 1), got " + num(min_p));
  if (!(repetition_penalty > 0.0) || std::isinf(repetition_penalty))
    throw std::invalid_argument("repetition penalty must be a finite number > 0, got " +
                                num(repetition_penalty));
}

int32_t argmax(std::span<const float> logits) {
  int32_t best = 0;
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > logits[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

void apply_repetition_penalty(std::span<float> logits, std::span<const int32_t> context,
                              double penalty, std::vector<uint8_t>& seen) {
  seen.assign(logits.size(), 0);  // each distinct token is penalised once
  const auto pen = static_cast<float>(penalty);
  for (const int32_t id : context) {
    const auto i = static_cast<size_t>(id);
    if (id < 0 || i >= logits.size() || seen[i]) continue;
    seen[i] = 1;
    logits[i] = logits[i] > 0.0f ? logits[i] / pen : logits[i] * pen;
  }
}

void apply_temperature(std::span<float> logits, double temperature) {
  const auto t = static_cast<float>(temperature);
  for (float& z : logits) z /= t;
}

void top_k_filter(std::span<float> logits, int64_t k, std::vector<int32_t>& order) {
  const auto V = static_cast<int64_t>(logits.size());
  if (k >= V) return;
  sort_by_logit(logits, order, k);
  for (int64_t i = k; i < V; ++i)
    logits[static_cast<size_t>(order[static_cast<size_t>(i)])] = -INFINITY;
}

void top_p_filter(std::span<float> logits, double p, std::vector<int32_t>& order) {
  const auto V = static_cast<int64_t>(logits.size());
  sort_by_logit(logits, order, V);
  // Probabilities p = softmax(z), visited in sorted order.
  const std::vector<float> prob = probabilities(logits);
  double total = 0.0;
  for (const float q : prob) total += q;
  double cumulative = 0.0;
  int64_t keep = 0;
  while (keep < V && cumulative < p) {
    cumulative += prob[static_cast<size_t>(order[static_cast<size_t>(keep)])] / total;
    ++keep;
  }
  for (int64_t i = keep; i < V; ++i)
    logits[static_cast<size_t>(order[static_cast<size_t>(i)])] = -INFINITY;
}

void min_p_filter(std::span<float> logits, double min_p) {
  if (min_p <= 0.0) return;
  float zmax = -INFINITY;
  for (const float z : logits) zmax = std::max(zmax, z);
  // p_i >= min_p * p_max  <=>  e^{z_i} >= min_p e^{z_max}  <=>  z_i >= z_max + log(min_p)
  const double threshold = static_cast<double>(zmax) + std::log(min_p);
  for (float& z : logits)
    if (static_cast<double>(z) < threshold) z = -INFINITY;
}

int32_t sample_from_logits(std::span<const float> logits, double u) {
  const std::vector<float> prob = probabilities(logits);
  double total = 0.0;
  for (const float q : prob) total += q;
  const double target = u * total;
  double cumulative = 0.0;
  int32_t last_possible = argmax(logits);
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] == -INFINITY) continue;  // filtered out
    cumulative += prob[i];
    last_possible = static_cast<int32_t>(i);
    if (cumulative > target) return last_possible;
  }
  return last_possible;  // u * total rounded up to the full sum: the last candidate
}

Sampler::Sampler(const SamplerOptions& options, int64_t vocab_size)
    : options_(options), rng_(options.seed) {
  options.validate(vocab_size);
  seen_.reserve(static_cast<size_t>(vocab_size));
  order_.reserve(static_cast<size_t>(vocab_size));
}

int32_t Sampler::next(std::span<float> logits, std::span<const int32_t> context) {
  if (options_.repetition_penalty != 1.0)
    apply_repetition_penalty(logits, context, options_.repetition_penalty, seen_);
  if (options_.temperature == 0.0) return argmax(logits);
  if (options_.temperature != 1.0) apply_temperature(logits, options_.temperature);
  if (options_.top_k > 0) top_k_filter(logits, options_.top_k, order_);
  if (options_.top_p < 1.0) top_p_filter(logits, options_.top_p, order_);
  if (options_.min_p > 0.0) min_p_filter(logits, options_.min_p);
  return sample_from_logits(logits, rng_.uniform());
}

}  // namespace cpurich
