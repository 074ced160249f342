// decoder.cpp: prefill + per-token decode on the model's weights (see decoder.h).
//
// One OpenMP parallel region per append() (so a decode step pays for one
// thread wake-up, not one per matrix): inside it, every matrix product is an
// `omp for` over 64-column panels and attention an `omp for` over (row, head)
// pairs. Work items never share an output, so no float sum is ever split
// across threads and the logits are bitwise the same for any thread count.
#include "infer/decoder.h"

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include "infer/decode_ops.h"
#include "nn/gpt.h"
#include "tensor/threads.h"

namespace cpurich {

namespace {

// The f32 values of weights[name], checked against the expected shape.
std::vector<float> take(const std::map<std::string, Tensor>& weights, const std::string& name,
                        const Shape& shape) {
  const auto it = weights.find(name);
  if (it == weights.end()) throw std::invalid_argument("decoder: missing tensor '" + name + "'");
  const Tensor& t = it->second;
  if (t.dtype() != DType::F32)
    throw std::invalid_argument("decoder: tensor '" + name + "' is " + dtype_name(t.dtype()) +
                                ", expected f32");
  if (t.shape() != shape)
    throw std::invalid_argument("decoder: tensor '" + name + "' has shape " +
                                shape_str(t.shape()) + ", expected " + shape_str(shape));
  const auto values = t.contiguous().span_f32();
  return {values.begin(), values.end()};
}

// A Linear layer: weight (in, out) and bias (out,), repacked into panels.
PackedLinear take_linear(const std::map<std::string, Tensor>& weights, const std::string& prefix,
                         int64_t in, int64_t out) {
  const auto w = take(weights, prefix + ".weight", {in, out});
  const auto b = take(weights, prefix + ".bias", {out});
  return pack_linear(w.data(), b.data(), in, out);
}

int64_t linear_bytes(const PackedLinear& p) {
  return (p.in * p.out + static_cast<int64_t>(p.bias.size())) * 4;
}

}  // namespace

Decoder::Decoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights)
    : config_(config) {
  config_.validate();
  const int64_t C = config.n_embd, V = config.vocab_size, P = config.n_positions;
  wte_ = take(weights, "wte.weight", {V, C});
  wpe_ = take(weights, "wpe.weight", {P, C});
  lnf_w_ = take(weights, "ln_f.weight", {C});
  lnf_b_ = take(weights, "ln_f.bias", {C});
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Layer layer;
    layer.ln1_w = take(weights, h + "ln_1.weight", {C});
    layer.ln1_b = take(weights, h + "ln_1.bias", {C});
    layer.ln2_w = take(weights, h + "ln_2.weight", {C});
    layer.ln2_b = take(weights, h + "ln_2.bias", {C});
    layer.attn = take_linear(weights, h + "attn.c_attn", C, 3 * C);
    layer.attn_proj = take_linear(weights, h + "attn.c_proj", C, C);
    layer.fc = take_linear(weights, h + "mlp.c_fc", C, 4 * C);
    layer.fc_proj = take_linear(weights, h + "mlp.c_proj", 4 * C, C);
    layers_.push_back(std::move(layer));
  }
  cache_ = KVCache(config.n_layer, config.n_head, C / config.n_head, P);
  tokens_.reserve(static_cast<size_t>(P));
  x_.assign(static_cast<size_t>(P * C), 0.0f);
  xn_.assign(static_cast<size_t>(P * C), 0.0f);
  qkv_.assign(static_cast<size_t>(P * 3 * C), 0.0f);
  att_.assign(static_cast<size_t>(P * C), 0.0f);
  fc_.assign(static_cast<size_t>(P * 4 * C), 0.0f);
  logits_.assign(static_cast<size_t>(V), 0.0f);
  scratch_threads_ = std::max(omp_get_max_threads(), omp_get_num_procs());
  scores_.assign(static_cast<size_t>(scratch_threads_ * P), 0.0f);
}

Decoder::Decoder(const GPT& model) : Decoder(model.config(), model.state_dict()) {}

void Decoder::reset() { truncate(0); }

void Decoder::truncate(int64_t n) {
  if (n < 0 || n > length())
    throw std::out_of_range("decoder: cannot truncate " + std::to_string(length()) +
                            " cached tokens to " + std::to_string(n));
  tokens_.resize(static_cast<size_t>(n));
  cache_.set_length(n);
}

std::span<const float> Decoder::append(std::span<const int32_t> ids) {
  const auto T = static_cast<int64_t>(ids.size());
  if (T == 0) throw std::invalid_argument("decoder: append needs at least one token");
  if (T > remaining())
    throw std::invalid_argument("decoder: " + std::to_string(length()) + " cached + " +
                                std::to_string(T) + " new tokens exceed the context of " +
                                std::to_string(config_.n_positions));
  for (const int32_t id : ids)
    if (id < 0 || id >= config_.vocab_size)
      throw std::invalid_argument("decoder: token id " + std::to_string(id) + " outside [0, " +
                                  std::to_string(config_.vocab_size) + ")");
  // Weight multiply-adds of this call: about 12 C^2 per layer per row.
  const int64_t C = config_.n_embd;
  const int64_t macs = T * (config_.n_layer * 12 * C * C + config_.vocab_size * C);
  int threads = macs < parallel_threshold_ ? 1 : std::min(num_threads(), scratch_threads_);
  if (threads < 1) threads = 1;
  forward_rows(ids.data(), T, threads);
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());  // within reserved capacity
  cache_.set_length(length());
  return logits();
}

std::span<const float> Decoder::sync(std::span<const int32_t> ids) {
  if (ids.empty()) throw std::invalid_argument("decoder: sync needs at least one token");
  size_t common = 0;
  while (common < tokens_.size() && common < ids.size() && tokens_[common] == ids[common])
    ++common;
  // Recompute at least the last token so there are logits to return.
  if (common == ids.size()) --common;
  truncate(static_cast<int64_t>(common));
  return append(ids.subspan(common));
}

int64_t Decoder::weight_bytes_per_token() const {
  const int64_t C = config_.n_embd;
  int64_t bytes = (config_.vocab_size * C + C + 4 * C) * 4;  // head (wte), wpe row, ln_f
  for (const Layer& l : layers_)
    bytes += linear_bytes(l.attn) + linear_bytes(l.attn_proj) + linear_bytes(l.fc) +
             linear_bytes(l.fc_proj) + 4 * C * 4;
  return bytes;
}

// Rows ids (T,) at positions pos0.. through embeddings, all layers, ln_f and
// the head (last row only: generation needs nothing else).
void Decoder::forward_rows(const int32_t* ids, int64_t T, int threads) {
  const int64_t C = config_.n_embd, V = config_.vocab_size, pos0 = length();
  const float* last = x_.data() + (T - 1) * C;
  float* h = xn_.data();  // the final LayerNorm's output reuses row 0 of xn_
#pragma omp parallel num_threads(threads)
  {
#pragma omp for schedule(static)
    for (int64_t t = 0; t < T; ++t) {  // x[t] = wte[id] + wpe[pos]
      const float* te = wte_.data() + ids[t] * C;
      const float* pe = wpe_.data() + (pos0 + t) * C;
      for (int64_t c = 0; c < C; ++c) x_[t * C + c] = te[c] + pe[c];
    }
    for (int64_t l = 0; l < config_.n_layer; ++l) layer_forward(l, T, pos0);
#pragma omp single
    layernorm_row(last, lnf_w_.data(), lnf_b_.data(), C,
                  static_cast<float>(config_.layer_norm_epsilon), h);
#pragma omp for schedule(static)
    for (int64_t v0 = 0; v0 < V; v0 += 32)
      head_logits(h, wte_.data(), C, logits_.data(), v0, std::min(v0 + 32, V));
  }
}

// One pre-LN block on rows x_[0..T): x += attn(ln_1(x)); x += mlp(ln_2(x)).
// Called by every thread of forward_rows's parallel region.
void Decoder::layer_forward(int64_t l, int64_t T, int64_t pos0) {
  const Layer& L = layers_[static_cast<size_t>(l)];
  const int64_t C = config_.n_embd, H = config_.n_head, d = C / H, P = config_.n_positions;
  const auto eps = static_cast<float>(config_.layer_norm_epsilon);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < T; ++t)
    layernorm_row(&x_[t * C], L.ln1_w.data(), L.ln1_b.data(), C, eps, &xn_[t * C]);
#pragma omp for schedule(static)
  for (int64_t p = 0; p < L.attn.num_panels(); ++p)  // qkv (T,3C) = xn @ c_attn
    linear_panels(L.attn, xn_.data(), C, T, qkv_.data(), 3 * C, p, p + 1, Epilogue::Store);
#pragma omp for schedule(static)
  for (int64_t th = 0; th < T * H; ++th) {  // k, v of the new rows -> cache
    const int64_t t = th / H, hd = th % H;
    std::copy_n(&qkv_[t * 3 * C + C + hd * d], d, cache_.keys(l, hd) + (pos0 + t) * d);
    std::copy_n(&qkv_[t * 3 * C + 2 * C + hd * d], d, cache_.values(l, hd) + (pos0 + t) * d);
  }
#pragma omp for schedule(static)
  for (int64_t th = 0; th < T * H; ++th) {  // row t attends to positions 0..pos0+t
    const int64_t t = th / H, hd = th % H;
    float* scores = scores_.data() + omp_get_thread_num() * P;
    attend(&qkv_[t * 3 * C + hd * d], cache_.keys(l, hd), cache_.values(l, hd), pos0 + t + 1, d,
           scores, &att_[t * C + hd * d]);
  }
#pragma omp for schedule(static)
  for (int64_t p = 0; p < L.attn_proj.num_panels(); ++p)  // x += att @ c_proj
    linear_panels(L.attn_proj, att_.data(), C, T, x_.data(), C, p, p + 1, Epilogue::Accumulate);
#pragma omp for schedule(static)
  for (int64_t t = 0; t < T; ++t)
    layernorm_row(&x_[t * C], L.ln2_w.data(), L.ln2_b.data(), C, eps, &xn_[t * C]);
#pragma omp for schedule(static)
  for (int64_t p = 0; p < L.fc.num_panels(); ++p)  // fc (T,4C) = gelu(xn @ c_fc)
    linear_panels(L.fc, xn_.data(), C, T, fc_.data(), 4 * C, p, p + 1, Epilogue::Gelu);
#pragma omp for schedule(static)
  for (int64_t p = 0; p < L.fc_proj.num_panels(); ++p)  // x += fc @ mlp.c_proj
    linear_panels(L.fc_proj, fc_.data(), 4 * C, T, x_.data(), C, p, p + 1, Epilogue::Accumulate);
}

}  // namespace cpurich
