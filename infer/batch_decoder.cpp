// batch_decoder.cpp: one forward over the rows of many sequences (see
// batch_decoder.h). The per-row pieces are Decoder's (decode_ops.h,
// matvec.h); what is new is the bookkeeping (which row belongs to which
// sequence at which position) and the gathered adapter term.
//
// Threads: as in decoder.cpp, every parallel loop gives each output to one
// work item (panels of a Linear, rows of the adapter term, (sequence, head)
// pairs of attention), so no float sum is split and the logits are bitwise
// the same for any thread count.
#include "infer/batch_decoder.h"

#include <algorithm>
#include <stdexcept>

#include "infer/decode_ops.h"
#include "nn/gpt.h"
#include "nn/lora.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

namespace cpurich {

namespace {

// The f32 values of weights[name], checked against the expected shape.
std::vector<float> take(const std::map<std::string, Tensor>& weights, const std::string& name,
                        const Shape& shape) {
  const auto it = weights.find(name);
  if (it == weights.end())
    throw std::invalid_argument("batch decoder: missing tensor '" + name + "'");
  const Tensor& t = it->second;
  if (t.dtype() != DType::F32)
    throw std::invalid_argument("batch decoder: tensor '" + name + "' is " + dtype_name(t.dtype()) +
                                ", expected f32");
  if (t.shape() != shape)
    throw std::invalid_argument("batch decoder: tensor '" + name + "' has shape " +
                                shape_str(t.shape()) + ", expected " + shape_str(shape));
  const auto values = t.contiguous().span_f32();
  return {values.begin(), values.end()};
}

PackedLinear take_linear(const std::map<std::string, Tensor>& weights, const std::string& prefix,
                         int64_t in, int64_t out) {
  const auto w = take(weights, prefix + ".weight", {in, out});
  const auto b = take(weights, prefix + ".bias", {out});
  return pack_linear(w.data(), b.data(), in, out);
}

std::vector<float> f32_values(const Tensor& t) {
  const Tensor c = t.to(DType::F32).contiguous();
  return {c.span_f32().begin(), c.span_f32().end()};
}

const char* const kKindNames[4] = {"attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"};

}  // namespace

LoraWeights take_lora_weights(GPT& model) {
  LoraWeights out;
  for (const auto& [name, lin] : model.linear_modules()) {
    if (!lin->lora) continue;
    const LoraAdapter& a = *lin->lora;
    out[name] = LoraFactors{.rank = a.A.value().size(0),
                            .scale = static_cast<float>(a.scale),
                            .A = f32_values(a.A.value()),
                            .B = f32_values(a.B.value())};
    lin->lora.reset();
  }
  return out;
}

BatchDecoder::BatchDecoder(const GPTConfig& config, const std::map<std::string, Tensor>& weights,
                           const BatchDecoderOptions& options)
    : config_(config), options_(options) {
  config_.validate();
  if (options.max_slots < 1 || options.max_rows < 1)
    throw std::invalid_argument("batch decoder: max_slots and max_rows must be >= 1");
  const int64_t C = config.n_embd, V = config.vocab_size, P = config.n_positions, H = config.n_head,
                R = options.max_rows, S = options.max_slots;
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
  slots_.resize(static_cast<size_t>(S));
  for (Slot& s : slots_) {
    s.cache = KVCache(
        KVCacheShape{.n_layer = config.n_layer, .n_head = H, .head_dim = C / H, .capacity = P});
    s.tokens.reserve(static_cast<size_t>(P));
  }
  row_slot_.assign(static_cast<size_t>(R), 0);
  row_pos_.assign(static_cast<size_t>(R), 0);
  item_row0_.assign(static_cast<size_t>(S + 1), 0);
  x_.assign(static_cast<size_t>(R * C), 0.0f);
  xn_.assign(static_cast<size_t>(R * C), 0.0f);
  qkv_.assign(static_cast<size_t>(R * 3 * C), 0.0f);
  att_.assign(static_cast<size_t>(R * C), 0.0f);
  fc_.assign(static_cast<size_t>(R * 4 * C), 0.0f);
  tmp_.assign(static_cast<size_t>(R * 4 * C), 0.0f);
  scores_.assign(static_cast<size_t>(S * H * P), 0.0f);
  hn_.assign(static_cast<size_t>(S * C), 0.0f);
  logits_.assign(static_cast<size_t>(S * V), 0.0f);
}

BatchDecoder::BatchDecoder(const GPT& model, const BatchDecoderOptions& options)
    : BatchDecoder(model.config(), model.state_dict(), options) {}

int32_t BatchDecoder::add_adapter(const LoraWeights& adapter) {
  const int64_t C = config_.n_embd;
  const int64_t in[4] = {C, C, C, 4 * C}, out[4] = {3 * C, C, 4 * C, C};
  std::vector<LoraFactors> by_layer(static_cast<size_t>(config_.n_layer * 4));
  for (const auto& [name, f] : adapter) {
    bool found = false;
    for (int64_t l = 0; l < config_.n_layer && !found; ++l) {
      for (int k = 0; k < 4 && !found; ++k) {
        if (name != "h." + std::to_string(l) + "." + kKindNames[k]) continue;
        found = true;
        if (f.rank < 1 || static_cast<int64_t>(f.A.size()) != f.rank * in[k] ||
            static_cast<int64_t>(f.B.size()) != out[k] * f.rank)
          throw std::invalid_argument("batch decoder: adapter factors of '" + name +
                                      "' do not fit (" + std::to_string(in[k]) + " -> " +
                                      std::to_string(out[k]) + ")");
        by_layer[static_cast<size_t>(l * 4 + k)] = f;
      }
    }
    if (!found) throw std::invalid_argument("batch decoder: adapter module '" + name + "' unknown");
  }
  int64_t max_rank = 0;
  for (const auto& a : adapters_)
    for (const LoraFactors& f : a) max_rank = std::max(max_rank, f.rank);
  for (const LoraFactors& f : by_layer) max_rank = std::max(max_rank, f.rank);
  lora_u_.assign(static_cast<size_t>(options_.max_rows * max_rank), 0.0f);
  adapters_.push_back(std::move(by_layer));
  return static_cast<int32_t>(adapters_.size() - 1);
}

int64_t BatchDecoder::open(int32_t adapter) {
  if (adapter < -1 || adapter >= num_adapters())
    throw std::invalid_argument("batch decoder: unknown adapter " + std::to_string(adapter));
  for (size_t s = 0; s < slots_.size(); ++s) {
    if (slots_[s].open) continue;
    slots_[s].open = true;
    slots_[s].adapter = adapter;
    slots_[s].tokens.clear();
    slots_[s].cache.set_length(0);
    return static_cast<int64_t>(s);
  }
  throw std::runtime_error("batch decoder: all " + std::to_string(slots_.size()) +
                           " slots are in use");
}

void BatchDecoder::close(int64_t slot) {
  if (slot < 0 || slot >= options_.max_slots)
    throw std::out_of_range("batch decoder: no slot " + std::to_string(slot));
  slots_[static_cast<size_t>(slot)].open = false;
}

void BatchDecoder::truncate(int64_t slot, int64_t n) {
  if (slot < 0 || slot >= options_.max_slots || !slots_[static_cast<size_t>(slot)].open)
    throw std::out_of_range("batch decoder: slot " + std::to_string(slot) + " is not open");
  Slot& s = slots_[static_cast<size_t>(slot)];
  if (n < 0 || n > static_cast<int64_t>(s.tokens.size()))
    throw std::out_of_range("batch decoder: cannot truncate " + std::to_string(s.tokens.size()) +
                            " cached tokens to " + std::to_string(n));
  s.tokens.resize(static_cast<size_t>(n));
  s.cache.set_length(n);
}

int64_t BatchDecoder::free_slots() const {
  return std::count_if(slots_.begin(), slots_.end(), [](const Slot& s) { return !s.open; });
}

std::span<const int32_t> BatchDecoder::tokens(int64_t slot) const {
  if (slot < 0 || slot >= options_.max_slots)
    throw std::out_of_range("batch decoder: no slot " + std::to_string(slot));
  const auto& t = slots_[static_cast<size_t>(slot)].tokens;
  return {t.data(), t.size()};
}

std::span<const float> BatchDecoder::logits(int64_t slot) const {
  if (slot < 0 || slot >= options_.max_slots)
    throw std::out_of_range("batch decoder: no slot " + std::to_string(slot));
  const auto V = static_cast<size_t>(config_.vocab_size);
  return {logits_.data() + static_cast<size_t>(slot) * V, V};
}

const LoraFactors* BatchDecoder::lora(int32_t adapter, int64_t l, Kind kind) const {
  if (adapter < 0) return nullptr;
  const LoraFactors& f = adapters_[static_cast<size_t>(adapter)][static_cast<size_t>(l * 4 + kind)];
  return f.rank > 0 ? &f : nullptr;
}

void BatchDecoder::check(std::span<const BatchItem> items) const {
  if (items.empty()) throw std::invalid_argument("batch decoder: forward needs at least one item");
  int64_t rows = 0;
  std::vector<bool> seen(slots_.size(), false);
  for (const BatchItem& it : items) {
    if (it.slot < 0 || it.slot >= options_.max_slots || !slots_[static_cast<size_t>(it.slot)].open)
      throw std::invalid_argument("batch decoder: slot " + std::to_string(it.slot) +
                                  " is not open");
    if (seen[static_cast<size_t>(it.slot)])
      throw std::invalid_argument("batch decoder: slot " + std::to_string(it.slot) +
                                  " appears twice in one forward");
    seen[static_cast<size_t>(it.slot)] = true;
    const auto T = static_cast<int64_t>(it.ids.size());
    if (T == 0) throw std::invalid_argument("batch decoder: an item has no tokens");
    if (T > remaining(it.slot))
      throw std::invalid_argument(
          "batch decoder: " + std::to_string(length(it.slot)) + " cached + " + std::to_string(T) +
          " new tokens exceed the context of " + std::to_string(config_.n_positions));
    for (const int32_t id : it.ids)
      if (id < 0 || id >= config_.vocab_size)
        throw std::invalid_argument("batch decoder: token id " + std::to_string(id) +
                                    " outside [0, " + std::to_string(config_.vocab_size) + ")");
    rows += T;
  }
  if (rows > options_.max_rows)
    throw std::invalid_argument("batch decoder: " + std::to_string(rows) +
                                " rows exceed max_rows " + std::to_string(options_.max_rows));
}

void BatchDecoder::forward(std::span<const BatchItem> items) {
  check(items);
  const int64_t C = config_.n_embd, V = config_.vocab_size;
  int64_t R = 0;
  for (const BatchItem& it : items) {  // x[r] = wte[id] + wpe[pos], rows in item order
    const int64_t pos0 = length(it.slot);
    for (size_t t = 0; t < it.ids.size(); ++t, ++R) {
      row_slot_[static_cast<size_t>(R)] = it.slot;
      row_pos_[static_cast<size_t>(R)] = pos0 + static_cast<int64_t>(t);
      const float* te = wte_.data() + it.ids[t] * C;
      const float* pe = wpe_.data() + (pos0 + static_cast<int64_t>(t)) * C;
      for (int64_t c = 0; c < C; ++c) x_[R * C + c] = te[c] + pe[c];
    }
  }
  const auto n_items = static_cast<int64_t>(items.size());
  for (size_t i = 0; i < items.size(); ++i)  // row offsets of the items
    item_row0_[i + 1] = item_row0_[i] + static_cast<int64_t>(items[i].ids.size());
  const int64_t macs = R * config_.n_layer * 12 * C * C + n_items * V * C;
  parallel_ = macs >= parallel_threshold_;
  for (int64_t l = 0; l < config_.n_layer; ++l) layer_forward(l, items, R);
  // ln_f on each item's last row, then the head for every (item, 32-token block).
  const auto eps = static_cast<float>(config_.layer_norm_epsilon);
  int64_t last = -1;
  for (int64_t i = 0; i < n_items; ++i) {
    last += static_cast<int64_t>(items[static_cast<size_t>(i)].ids.size());
    layernorm_row(x_.data() + last * C, lnf_w_.data(), lnf_b_.data(), C, eps, &hn_[i * C]);
  }
  const int64_t blocks = (V + 31) / 32;
  parallel_for_if(parallel_, 0, n_items * blocks, [&](int64_t w) {
    // logits[slot][v] = hn[i] (C,) . wte[v, :] for v in [blk*32, blk*32 + 32)
    const int64_t i = w / blocks, blk = w % blocks;
    float* out = logits_.data() + items[static_cast<size_t>(i)].slot * V;
    kernels::vecmat_t(&hn_[i * C], wte_.data() + blk * 32 * C, C, C,
                      std::min<int64_t>(32, V - blk * 32), out + blk * 32);
  });
  for (const BatchItem& it : items) {
    Slot& s = slots_[static_cast<size_t>(it.slot)];
    s.tokens.insert(s.tokens.end(), it.ids.begin(), it.ids.end());  // within reserved capacity
    s.cache.set_length(static_cast<int64_t>(s.tokens.size()));
  }
}

// LayerNorm of rows x (R,C) into xn_.
void BatchDecoder::norm_rows(const float* x, int64_t R, const float* w, const float* b) {
  const int64_t C = config_.n_embd;
  const auto eps = static_cast<float>(config_.layer_norm_epsilon);
  parallel_for_if(parallel_ && R > 1, 0, R,
                  [&](int64_t t) { layernorm_row(x + t * C, w, b, C, eps, &xn_[t * C]); });
}

// y (R,N) = epilogue(x (R,in) @ W + b + s_r (x A_r^T) B_r^T), where A_r, B_r,
// s_r are row r's adapter for this layer (no term for rows without one).
// Without any adapted row it is exactly Decoder's fused call. Otherwise the
// base product is stored first (acc + b, as the fused epilogue computes it),
// the adapter terms are added, and the epilogue runs as a separate pass:
// gelu(v) and y + v are the same float operations on the same v, so the
// rows without adapter keep Decoder's bits.
void BatchDecoder::linear(int64_t l, Kind kind, const PackedLinear& W, const float* x, int64_t R,
                          float* y, Epilogue ep) {
  const int64_t in = W.in, N = W.out;
  bool adapted = false;
  for (int64_t r = 0; r < R && !adapted; ++r)
    adapted = lora(slots_[static_cast<size_t>(row_slot_[static_cast<size_t>(r)])].adapter, l,
                   kind) != nullptr;
  if (!adapted) {
    parallel_for_if(parallel_, 0, W.num_panels(),
                    [&](int64_t p) { linear_panels(W, x, in, R, y, N, p, p + 1, ep); });
    return;
  }
  float* v = ep == Epilogue::Accumulate ? tmp_.data() : y;  // (R, N) = x W + b
  parallel_for_if(parallel_, 0, W.num_panels(),
                  [&](int64_t p) { linear_panels(W, x, in, R, v, N, p, p + 1, Epilogue::Store); });
  const int64_t max_rank = static_cast<int64_t>(lora_u_.size()) / options_.max_rows;
  parallel_for_if(parallel_, 0, R, [&](int64_t r) {
    const int32_t a = slots_[static_cast<size_t>(row_slot_[static_cast<size_t>(r)])].adapter;
    const LoraFactors* f = lora(a, l, kind);
    float* vr = v + r * N;
    if (f) {
      // u (rank,) = s * (x_r (in,) @ A^T), then v_r (N,) += u @ B^T (lora.h's order)
      float* u = &lora_u_[static_cast<size_t>(r * max_rank)];
      const float* xr = x + r * in;
      for (int64_t j = 0; j < f->rank; ++j) {
        const float* aj = f->A.data() + j * in;
        float acc = 0.0f;
        for (int64_t c = 0; c < in; ++c) acc += xr[c] * aj[c];
        u[j] = acc * f->scale;
      }
      for (int64_t n = 0; n < N; ++n) {
        const float* bn = f->B.data() + n * f->rank;
        float acc = 0.0f;
        for (int64_t j = 0; j < f->rank; ++j) acc += u[j] * bn[j];
        vr[n] += acc;
      }
    }
    if (ep == Epilogue::Gelu)
      for (int64_t n = 0; n < N; ++n) vr[n] = kernels::gelu_tanh(vr[n]);
    if (ep == Epilogue::Accumulate)
      for (int64_t n = 0; n < N; ++n) y[r * N + n] += vr[n];
  });
}

// One pre-LN block on rows x_[0..R): x += attn(ln_1(x)); x += mlp(ln_2(x)).
void BatchDecoder::layer_forward(int64_t l, std::span<const BatchItem> items, int64_t R) {
  const Layer& L = layers_[static_cast<size_t>(l)];
  const int64_t C = config_.n_embd, H = config_.n_head, d = C / H, P = config_.n_positions;
  norm_rows(x_.data(), R, L.ln1_w.data(), L.ln1_b.data());
  linear(l, kAttn, L.attn, xn_.data(), R, qkv_.data(), Epilogue::Store);  // qkv (R,3C)
  // One work item per (sequence, head), its rows in order: row t's key and
  // value go into that sequence's cache, then row t attends to its positions
  // 0..pos(t), all written by this same item.
  const std::vector<int64_t>& first = item_row0_;
  const auto n_items = static_cast<int64_t>(items.size());
  parallel_for_if(parallel_, 0, n_items * H, [&](int64_t w) {
    const int64_t i = w / H, hd = w % H;
    KVCache& cache = slots_[static_cast<size_t>(items[static_cast<size_t>(i)].slot)].cache;
    float* scores = scores_.data() + (i * H + hd) * P;
    for (int64_t t = first[static_cast<size_t>(i)]; t < first[static_cast<size_t>(i) + 1]; ++t) {
      const float* q = &qkv_[t * 3 * C + hd * d];  // then k at +C, v at +2C
      const int64_t pos = row_pos_[static_cast<size_t>(t)];
      cache.put(l, hd, pos, q + C, q + 2 * C);
      attend(q, cache.keys(l, hd), cache.values(l, hd), pos + 1, d, scores, &att_[t * C + hd * d]);
    }
  });
  linear(l, kAttnProj, L.attn_proj, att_.data(), R, x_.data(), Epilogue::Accumulate);
  norm_rows(x_.data(), R, L.ln2_w.data(), L.ln2_b.data());
  linear(l, kFc, L.fc, xn_.data(), R, fc_.data(), Epilogue::Gelu);
  linear(l, kFcProj, L.fc_proj, fc_.data(), R, x_.data(), Epilogue::Accumulate);
}

}  // namespace cpurich
