// decoder.cpp: prefill + per-token decode on the model's weights (see decoder.h).
//
// Every matrix product is a parallel loop (tensor/parallel.h) over 64-column
// panels and attention a parallel loop over heads; the end of each loop is a
// step's sync point. Work items never share an output, so no float sum is
// ever split across threads and the logits are bitwise the same for any
// thread count. Below a size threshold (set_parallel_threshold) a step runs
// on the caller's thread alone.
#include "infer/decoder.h"

#include <algorithm>
#include <stdexcept>

#include "infer/decode_ops.h"
#include "nn/gpt.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

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
    throw std::invalid_argument("decoder: tensor '" + name + "' has shape " + shape_str(t.shape()) +
                                ", expected " + shape_str(shape));
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

// weights with every quantized matrix replaced by its dequantized f32 values
// in the state dict's orientation (Conv1D (in, out); wte (V, C)).
std::map<std::string, Tensor> with_dequantized(
    const std::map<std::string, Tensor>& weights,
    const std::map<std::string, QuantMatrix>& quantized) {
  std::map<std::string, Tensor> all = weights;
  for (const auto& [name, q] : quantized) {
    std::vector<float> w(static_cast<size_t>(q.rows * q.cols));
    dequantize_matrix(q, w);
    Tensor t = Tensor::from_vector(w, {q.rows, q.cols});
    const bool conv1d = name != "wte.weight" && name != "wpe.weight";
    all.insert_or_assign(name, conv1d ? t.transpose(0, 1).contiguous() : t);
  }
  return all;
}

}  // namespace

Decoder::Decoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights,
                 const std::map<std::string, QuantMatrix>& quantized)
    : Decoder(config, quantized.empty() ? weights : with_dequantized(weights, quantized)) {}

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
  cache_ = KVCache(KVCacheShape{.n_layer = config.n_layer,
                                .n_head = config.n_head,
                                .head_dim = C / config.n_head,
                                .capacity = P});
  tokens_.reserve(static_cast<size_t>(P));
  x_.assign(static_cast<size_t>(P * C), 0.0f);
  xn_.assign(static_cast<size_t>(P * C), 0.0f);
  qkv_.assign(static_cast<size_t>(P * 3 * C), 0.0f);
  att_.assign(static_cast<size_t>(P * C), 0.0f);
  fc_.assign(static_cast<size_t>(P * 4 * C), 0.0f);
  logits_.assign(static_cast<size_t>(V), 0.0f);
  scores_.assign(static_cast<size_t>(config.n_head * P), 0.0f);
}

Decoder::Decoder(const GPT& model, const std::map<std::string, QuantMatrix>& quantized)
    : Decoder(model.config(), model.state_dict(), quantized) {}

void Decoder::reset() {
  truncate(0);
}

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
  parallel_ = macs >= parallel_threshold_;
  forward_rows(ids.data(), T);
  tokens_.insert(tokens_.end(), ids.begin(), ids.end());  // within reserved capacity
  cache_.set_length(length());
  return logits();
}

std::span<const float> Decoder::sync(std::span<const int32_t> ids) {
  if (ids.empty()) throw std::invalid_argument("decoder: sync needs at least one token");
  size_t common = 0;
  while (common < tokens_.size() && common < ids.size() && tokens_[common] == ids[common]) ++common;
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
void Decoder::forward_rows(const int32_t* ids, int64_t T) {
  const int64_t C = config_.n_embd, V = config_.vocab_size, pos0 = length();
  for (int64_t t = 0; t < T; ++t) {  // x[t] = wte[id] + wpe[pos]
    const float* te = wte_.data() + ids[t] * C;
    const float* pe = wpe_.data() + (pos0 + t) * C;
    for (int64_t c = 0; c < C; ++c) x_[t * C + c] = te[c] + pe[c];
  }
  for (int64_t l = 0; l < config_.n_layer; ++l) layer_forward(l, T, pos0);
  // Only the last row's logits are needed: ln_f on that row, then the head
  // split over the vocabulary.
  const float* h = norm_rows(x_.data() + (T - 1) * C, 1, lnf_w_.data(), lnf_b_.data());
  parallel_for_if(parallel_, 0, (V + 31) / 32, [&](int64_t blk) {
    // logits[v] = h (C,) . wte[v, :] for v in [blk*32, blk*32 + 32)
    kernels::vecmat_t(h, wte_.data() + blk * 32 * C, C, C, std::min<int64_t>(32, V - blk * 32),
                      logits_.data() + blk * 32);
  });
}

// LayerNorm of rows x (T,C) into xn_; returns xn_. One row (a decode step)
// is ~C operations: the caller does it alone rather than open a region.
const float* Decoder::norm_rows(const float* x, int64_t T, const float* w, const float* b) {
  const int64_t C = config_.n_embd;
  const auto eps = static_cast<float>(config_.layer_norm_epsilon);
  parallel_for_if(parallel_ && T > 1, 0, T,
                  [&](int64_t t) { layernorm_row(x + t * C, w, b, C, eps, &xn_[t * C]); });
  return xn_.data();
}

// One pre-LN block on rows x_[0..T): x += attn(ln_1(x)); x += mlp(ln_2(x)).
// Five parallel loops per layer in a decode step: each needs whole rows of
// the one before, and the end of a loop is where the caller waits for them.
void Decoder::layer_forward(int64_t l, int64_t T, int64_t pos0) {
  const Layer& L = layers_[static_cast<size_t>(l)];
  const int64_t C = config_.n_embd, H = config_.n_head, d = C / H, P = config_.n_positions;
  const float* xn = norm_rows(x_.data(), T, L.ln1_w.data(), L.ln1_b.data());
  parallel_for_if(parallel_, 0, L.attn.num_panels(), [&](int64_t p) {  // qkv (T,3C) = xn @ c_attn
    linear_panels(L.attn, xn, C, T, qkv_.data(), 3 * C, p, p + 1, Epilogue::Store);
  });
  // One work item per head, over all T rows in order: row t's key and value
  // go into the cache, then row t attends to positions 0..pos0+t, which are
  // all this head's and written by this same item.
  parallel_for_if(parallel_, 0, H, [&](int64_t hd) {
    float* scores = scores_.data() + hd * P;
    for (int64_t t = 0; t < T; ++t) {
      const float* q = &qkv_[t * 3 * C + hd * d];  // then k at +C, v at +2C
      cache_.put(l, hd, pos0 + t, q + C, q + 2 * C);
      attend(q, cache_.keys(l, hd), cache_.values(l, hd), pos0 + t + 1, d, scores,
             &att_[t * C + hd * d]);
    }
  });
  parallel_for_if(parallel_, 0, L.attn_proj.num_panels(), [&](int64_t p) {  // x += att @ c_proj
    linear_panels(L.attn_proj, att_.data(), C, T, x_.data(), C, p, p + 1, Epilogue::Accumulate);
  });
  xn = norm_rows(x_.data(), T, L.ln2_w.data(), L.ln2_b.data());
  parallel_for_if(parallel_, 0, L.fc.num_panels(), [&](int64_t p) {  // fc (T,4C) = gelu(xn @ c_fc)
    linear_panels(L.fc, xn, C, T, fc_.data(), 4 * C, p, p + 1, Epilogue::Gelu);
  });
  parallel_for_if(parallel_, 0, L.fc_proj.num_panels(), [&](int64_t p) {  // x += fc @ mlp.c_proj
    linear_panels(L.fc_proj, fc_.data(), 4 * C, T, x_.data(), C, p, p + 1, Epilogue::Accumulate);
  });
}

}  // namespace cpurich
