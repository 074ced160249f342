// adapter_decoder.cpp: one BatchDecoder slot whose adapter is swapped by name
// (see adapter_decoder.h).
#include "infer/adapter_decoder.h"

#include <stdexcept>

#include "nn/gpt.h"

namespace cpurich {

// One slot, and a whole context in one forward (a prefill is never split).
AdapterDecoder::AdapterDecoder(const GPT& base)
    : batch_(base, BatchDecoderOptions{.max_slots = 1, .max_rows = base.config().n_positions}) {
  slot_ = batch_.open(-1);
}

void AdapterDecoder::add_adapter(const std::string& name, const LoraWeights& adapter) {
  if (name.empty() || name == kBase)
    throw std::invalid_argument("adapter name '" + name + "' is reserved: pick another");
  if (ids_.count(name) > 0) throw std::invalid_argument("two adapters are named '" + name + "'");
  ids_[name] = batch_.add_adapter(adapter);
}

std::vector<std::string> AdapterDecoder::adapter_names() const {
  std::vector<std::string> names;
  for (const auto& [name, id] : ids_) names.push_back(name);
  return names;
}

void AdapterDecoder::use(const std::string& name) {
  const std::string want = name.empty() ? kBase : name;
  if (want == active_) return;  // same adapter: the cache stays valid
  int32_t id = -1;
  if (want != kBase) {
    const auto it = ids_.find(want);
    if (it == ids_.end()) {
      std::string known = kBase;
      for (const auto& [n, i] : ids_) known += ", " + n;
      throw std::invalid_argument("unknown adapter '" + want + "' (known: " + known + ")");
    }
    id = it->second;
  }
  // The swap: the slot now names the other adapter's factors; reopening it
  // empties its cache, whose keys and values the old adapter computed.
  batch_.close(slot_);
  slot_ = batch_.open(id);
  active_ = want;
}

std::span<const float> AdapterDecoder::append(std::span<const int32_t> ids) {
  if (ids.empty()) throw std::invalid_argument("decoder: append needs at least one token");
  const BatchItem item{.slot = slot_, .ids = ids};
  batch_.forward({&item, 1});
  return logits();
}

std::span<const float> AdapterDecoder::sync(std::span<const int32_t> ids) {
  if (ids.empty()) throw std::invalid_argument("decoder: sync needs at least one token");
  const auto cached = tokens();
  size_t common = 0;
  while (common < cached.size() && common < ids.size() && cached[common] == ids[common]) ++common;
  // Recompute at least the last token so there are logits to return.
  if (common == ids.size()) --common;
  truncate(static_cast<int64_t>(common));
  return append(ids.subspan(common));
}

}  // namespace cpurich
