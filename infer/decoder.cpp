// decoder.cpp: prefill + per-token decode on the model's weights (see decoder.h).
//
// Every matrix product is a parallel loop (tensor/parallel.h) over 64-column
// panels (f32) or 32-output chunks (quantized, tensor/quant_matvec.h) and attention a parallel loop
// over heads; the end of each loop is a step's sync point. Work items never share an output, so no
// float sum is ever split across threads and the logits are bitwise the same for any thread count.
// Below a size threshold (set_parallel_threshold) a step runs on the caller's thread alone.
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

// A quantized matrix of the expected (out, in) shape, or nullptr when `name`
// is not in `quantized`.
const QuantMatrix* find_quantized(const std::map<std::string, QuantMatrix>& quantized,
                                  const std::string& name, int64_t out, int64_t in) {
  const auto it = quantized.find(name);
  if (it == quantized.end()) return nullptr;
  const QuantMatrix& q = it->second;
  if (q.rows != out || q.cols != in)
    throw std::invalid_argument("decoder: quantized '" + name + "' is (" + std::to_string(q.rows) +
                                ", " + std::to_string(q.cols) + "), expected (" +
                                std::to_string(out) + ", " + std::to_string(in) + ")");
  validate_quant_matrix(q);
  return &q;
}

// Output columns per work item of a quantized product: small enough to
// split a 768-row matrix over threads, large enough that a hand-off (~1 us)
// is small against the item's work.
constexpr int64_t kQuantChunk = 32;

}  // namespace

int64_t Decoder::Linear::bytes() const {
  if (quantized) return static_cast<int64_t>(q.w.data.size() + q.bias.size() * 4);
  return (f32.in * f32.out + static_cast<int64_t>(f32.bias.size())) * 4;
}

Decoder::Decoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights)
    : Decoder(config, weights, {}) {}

Decoder::Decoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights,
                 const std::map<std::string, QuantMatrix>& quantized)
    : config_(config) {
  config_.validate();
  const int64_t C = config.n_embd, V = config.vocab_size, P = config.n_positions;
  // A Linear layer: (out, in) blocks if quantized, else the Conv1D weight
  // (in, out) repacked into panels; the bias stays f32 either way.
  auto take_linear = [&](const std::string& prefix, int64_t in, int64_t out) {
    Linear lin;
    const auto b = take(weights, prefix + ".bias", {out});
    if (const QuantMatrix* q = find_quantized(quantized, prefix + ".weight", out, in)) {
      lin.quantized = true;
      lin.q = QuantLinear{.w = *q, .bias = b};
    } else {
      const auto w = take(weights, prefix + ".weight", {in, out});
      lin.f32 = pack_linear(w.data(), b.data(), in, out);
    }
    return lin;
  };
  if (const QuantMatrix* q = find_quantized(quantized, "wte.weight", V, C)) {
    wte_q_ = *q;
    wte_quantized_ = true;
  } else {
    wte_ = take(weights, "wte.weight", {V, C});
  }
  if (const QuantMatrix* q = find_quantized(quantized, "wpe.weight", P, C)) {
    wpe_.resize(static_cast<size_t>(P * C));  // a lookup table: decoded once
    dequantize_matrix(*q, wpe_);
  } else {
    wpe_ = take(weights, "wpe.weight", {P, C});
  }
  lnf_w_ = take(weights, "ln_f.weight", {C});
  lnf_b_ = take(weights, "ln_f.bias", {C});
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const std::string h = "h." + std::to_string(l) + ".";
    Layer layer;
    layer.ln1_w = take(weights, h + "ln_1.weight", {C});
    layer.ln1_b = take(weights, h + "ln_1.bias", {C});
    layer.ln2_w = take(weights, h + "ln_2.weight", {C});
    layer.ln2_b = take(weights, h + "ln_2.bias", {C});
    layer.attn = take_linear(h + "attn.c_attn", C, 3 * C);
    layer.attn_proj = take_linear(h + "attn.c_proj", C, C);
    layer.fc = take_linear(h + "mlp.c_fc", C, 4 * C);
    layer.fc_proj = take_linear(h + "mlp.c_proj", 4 * C, C);
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
  if (!quantized.empty()) {
    // Activation buffers for the widest input (4C) and every row, so a step
    // allocates nothing (the buffers only grow).
    for (const auto& [name, q] : quantized) quant_activations_resize(q.format, P, 4 * C, acts_);
    tmp_.assign(static_cast<size_t>(P * C), 0.0f);
    wte_row_.assign(static_cast<size_t>(C), 0.0f);
  }
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
  if (wte_quantized_)
    bytes += static_cast<int64_t>(wte_q_.data.size()) - config_.vocab_size * C * 4;
  for (const Layer& l : layers_)
    bytes += l.attn.bytes() + l.attn_proj.bytes() + l.fc.bytes() + l.fc_proj.bytes() + 4 * C * 4;
  return bytes;
}

// Rows ids (T,) at positions pos0.. through embeddings, all layers, ln_f and
// the head (last row only: generation needs nothing else).
void Decoder::forward_rows(const int32_t* ids, int64_t T) {
  const int64_t C = config_.n_embd, V = config_.vocab_size, pos0 = length();
  for (int64_t t = 0; t < T; ++t) {  // x[t] = wte[id] + wpe[pos]
    const float* te = wte_.data() + ids[t] * C;
    if (wte_quantized_) {
      dequantize_matrix_row(wte_q_, ids[t], wte_row_);
      te = wte_row_.data();
    }
    const float* pe = wpe_.data() + (pos0 + t) * C;
    for (int64_t c = 0; c < C; ++c) x_[t * C + c] = te[c] + pe[c];
  }
  for (int64_t l = 0; l < config_.n_layer; ++l) layer_forward(l, T, pos0);
  // Only the last row's logits are needed: ln_f on that row, then the head
  // split over the vocabulary.
  const float* h = norm_rows(x_.data() + (T - 1) * C, 1, lnf_w_.data(), lnf_b_.data());
  if (wte_quantized_) {  // logits (V,) = h (C,) @ wte^T, wte (V, C) = (out, in)
    prepare(wte_q_.format, h, 1, C);
    parallel_for_if(parallel_, 0, (V + kQuantChunk - 1) / kQuantChunk, [&](int64_t blk) {
      const int64_t v0 = blk * kQuantChunk;
      quant_matmul_rows(wte_q_, acts_, logits_.data(), V, v0, std::min(V, v0 + kQuantChunk));
    });
    return;
  }
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

void Decoder::prepare(QuantFormat format, const float* x, int64_t T, int64_t C) {
  quant_activations_resize(format, T, C, acts_);
  parallel_for_if(parallel_ && T > 1, 0, T,
                  [&](int64_t t) { quantize_activations(x, C, t, t + 1, acts_); });
}

// Each work item owns whole output columns (64 f32 ones, or kQuantChunk
// quantized ones) for all T rows: no sum is ever split.
void Decoder::linear(const Linear& L, const float* x, int64_t T, float* y, Epilogue ep) {
  if (!L.quantized) {
    parallel_for_if(parallel_, 0, L.f32.num_panels(), [&](int64_t p) {
      linear_panels(L.f32, x, L.f32.in, T, y, L.f32.out, p, p + 1, ep);
    });
    return;
  }
  const int64_t N = L.q.out();
  prepare(L.q.w.format, x, T, L.q.in());
  parallel_for_if(parallel_, 0, (N + kQuantChunk - 1) / kQuantChunk, [&](int64_t c) {
    const int64_t n0 = c * kQuantChunk;
    quant_linear_cols(L.q, acts_, y, N, tmp_.data(), n0, std::min(N, n0 + kQuantChunk), ep);
  });
}

// One pre-LN block on rows x_[0..T): x += attn(ln_1(x)); x += mlp(ln_2(x)).
// Five parallel loops per layer in a decode step: each needs whole rows of
// the one before, and the end of a loop is where the caller waits for them.
void Decoder::layer_forward(int64_t l, int64_t T, int64_t pos0) {
  const Layer& L = layers_[static_cast<size_t>(l)];
  const int64_t C = config_.n_embd, H = config_.n_head, d = C / H, P = config_.n_positions;
  const float* xn = norm_rows(x_.data(), T, L.ln1_w.data(), L.ln1_b.data());
  linear(L.attn, xn, T, qkv_.data(), Epilogue::Store);  // qkv (T,3C) = xn @ c_attn
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
  linear(L.attn_proj, att_.data(), T, x_.data(), Epilogue::Accumulate);  // x += att @ c_proj
  xn = norm_rows(x_.data(), T, L.ln2_w.data(), L.ln2_b.data());
  linear(L.fc, xn, T, fc_.data(), Epilogue::Gelu);                    // fc (T,4C) = gelu(xn @ c_fc)
  linear(L.fc_proj, fc_.data(), T, x_.data(), Epilogue::Accumulate);  // x += fc @ mlp.c_proj
}

}  // namespace cpurich
