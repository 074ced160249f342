// gguf_export.cpp: GPT-2 parameters and hyper-parameters -> llama.cpp's `gpt2`
// GGUF (names, layouts, types, metadata). The vocabulary is gguf_vocab.cpp.
#include "infer/gguf_export.h"

#include <bit>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "tensor/half.h"
#include "tensor/quant_formats.h"
#include "util/file_util.h"

namespace cpurich {

static_assert(std::endian::native == std::endian::little,
              "GGUF tensors are little-endian; F32 rows are copied as they are in memory");

GgufFileType parse_gguf_file_type(std::string_view name) {
  for (GgufFileType t : {GgufFileType::F32, GgufFileType::F16, GgufFileType::Q8_0,
                         GgufFileType::Q4_0, GgufFileType::Q4_1})
    if (gguf_file_type_name(t) == name) return t;
  throw std::invalid_argument("unknown GGUF type '" + std::string(name) +
                              "' (valid: f32, f16, q8_0, q4_0, q4_1)");
}

std::string_view gguf_file_type_name(GgufFileType type) {
  switch (type) {
    case GgufFileType::F32:
      return "f32";
    case GgufFileType::F16:
      return "f16";
    case GgufFileType::Q8_0:
      return "q8_0";
    case GgufFileType::Q4_0:
      return "q4_0";
    case GgufFileType::Q4_1:
      return "q4_1";
  }
  return "?";
}

uint32_t gguf_llama_ftype(GgufFileType type) {
  switch (type) {
    case GgufFileType::F32:
      return 0;
    case GgufFileType::F16:
      return 1;
    case GgufFileType::Q4_0:
      return 2;
    case GgufFileType::Q4_1:
      return 3;
    case GgufFileType::Q8_0:
      return 7;
  }
  return 0;
}

namespace {

bool starts_with(const std::string& s, std::string_view p) {
  return s.rfind(p, 0) == 0;
}
bool ends_with(const std::string& s, std::string_view p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

// HF's Conv1D weights are stored (in, out); llama.cpp wants (out, in).
bool is_conv1d_weight(const std::string& hf_name) {
  return ends_with(hf_name, ".c_attn.weight") || ends_with(hf_name, ".c_proj.weight") ||
         ends_with(hf_name, ".c_fc.weight");
}

// w (rows, cols) row-major -> the bytes of a ggml tensor ne = {cols, rows} of `type`.
std::vector<uint8_t> encode_tensor(std::span<const float> w, int64_t rows, int64_t cols,
                                   GgmlType type) {
  std::vector<uint8_t> out;
  switch (type) {
    case GgmlType::F32:
      out.resize(w.size() * sizeof(float));
      std::memcpy(out.data(), w.data(), out.size());
      return out;
    case GgmlType::F16:
      out.reserve(w.size() * 2);
      for (float v : w) {
        const uint16_t h = f32_to_f16(v);
        out.push_back(static_cast<uint8_t>(h & 0xFF));
        out.push_back(static_cast<uint8_t>(h >> 8));
      }
      return out;
    case GgmlType::Q8_0:
      return quantize_matrix(QuantFormat::Q8_0, w, rows, cols).data;
    case GgmlType::Q4_0:
      return quantize_matrix(QuantFormat::Q4_0, w, rows, cols).data;
    case GgmlType::Q4_1:
      return quantize_matrix(QuantFormat::Q4_1, w, rows, cols).data;
  }
  return out;
}

}  // namespace

//! [tensor_names]
std::string gguf_tensor_name(const std::string& hf_name) {
  if (hf_name == "wte.weight") return "token_embd.weight";
  if (hf_name == "wpe.weight") return "position_embd.weight";
  if (hf_name == "ln_f.weight") return "output_norm.weight";
  if (hf_name == "ln_f.bias") return "output_norm.bias";
  // h.N.<module>.<weight|bias> -> blk.N.<llama.cpp module>.<weight|bias>
  static const std::pair<std::string_view, std::string_view> kBlock[] = {
      {"ln_1", "attn_norm"},           // LayerNorm before attention
      {"attn.c_attn", "attn_qkv"},     // fused Q, K, V projection (C -> 3C)
      {"attn.c_proj", "attn_output"},  // attention output projection (C -> C)
      {"ln_2", "ffn_norm"},            // LayerNorm before the MLP
      {"mlp.c_fc", "ffn_up"},          // C -> 4C
      {"mlp.c_proj", "ffn_down"},      // 4C -> C
  };
  const std::size_t dot = hf_name.find('.', 2);
  const std::size_t last = hf_name.rfind('.');
  if (starts_with(hf_name, "h.") && dot != std::string::npos && last > dot) {
    const std::string layer = hf_name.substr(2, dot - 2);
    const std::string module = hf_name.substr(dot + 1, last - dot - 1);
    const std::string leaf = hf_name.substr(last + 1);
    const bool numeric =
        !layer.empty() && layer.find_first_not_of("0123456789") == std::string::npos;
    if (numeric && (leaf == "weight" || leaf == "bias"))
      for (const auto& [ours, theirs] : kBlock)
        if (module == ours) return "blk." + layer + "." + std::string(theirs) + "." + leaf;
  }
  throw std::invalid_argument("no GGUF name for parameter '" + hf_name + "'");
}
//! [tensor_names]

//! [tensor_types]
GgmlType gguf_tensor_type(const std::string& gguf_name, int64_t n_dims, int64_t row,
                          GgufFileType type) {
  // llama-quantize --pure: only 2-D "...weight" tensors, never the norms or
  // the positional embedding (a small table every token reads).
  const bool quantizable = n_dims == 2 && ends_with(gguf_name, "weight") &&
                           gguf_name.find("_norm.weight") == std::string::npos &&
                           gguf_name != "position_embd.weight";
  if (!quantizable || type == GgufFileType::F32) return GgmlType::F32;
  GgmlType t = GgmlType::F16;
  switch (type) {
    case GgufFileType::F32:
    case GgufFileType::F16:
      t = GgmlType::F16;
      break;
    case GgufFileType::Q8_0:
      t = GgmlType::Q8_0;
      break;
    case GgufFileType::Q4_0:
      t = GgmlType::Q4_0;
      break;
    case GgufFileType::Q4_1:
      t = GgmlType::Q4_1;
      break;
  }
  if (t != GgmlType::F16 && row % kQBlock != 0) t = GgmlType::F16;  // no whole blocks of 32
  return t;
}
//! [tensor_types]

GgufWriter gguf_from_model(const GPT& model, const Tokenizer& tokenizer,
                           const GgufExportOptions& options, std::vector<std::string>* notes) {
  const GPTConfig& c = model.config();
  GgufVocab vocab = gguf_vocab(tokenizer, c.vocab_size);
  if (notes != nullptr) *notes = vocab.notes;

  GgufWriter w(options.alignment);
  //! [metadata]
  w.add_string("general.architecture", "gpt2");
  w.add_string("general.name", options.name);
  w.add_u32("general.file_type", gguf_llama_ftype(options.type));
  w.add_u32("general.quantization_version", 2);  // ggml's GGML_QNT_VERSION
  w.add_u32("gpt2.context_length", static_cast<uint32_t>(c.n_positions));
  w.add_u32("gpt2.embedding_length", static_cast<uint32_t>(c.n_embd));
  w.add_u32("gpt2.feed_forward_length", static_cast<uint32_t>(4 * c.n_embd));
  w.add_u32("gpt2.block_count", static_cast<uint32_t>(c.n_layer));
  w.add_u32("gpt2.attention.head_count", static_cast<uint32_t>(c.n_head));
  w.add_f32("gpt2.attention.layer_norm_epsilon", static_cast<float>(c.layer_norm_epsilon));
  w.add_string("tokenizer.ggml.model", "gpt2");  // byte-level BPE
  w.add_string("tokenizer.ggml.pre", "gpt-2");   // GPT-2's word-splitting regex
  w.add_string_array("tokenizer.ggml.tokens", vocab.tokens);
  w.add_i32_array("tokenizer.ggml.token_type", vocab.token_types);
  w.add_string_array("tokenizer.ggml.merges", vocab.merges);
  if (vocab.bos >= 0) w.add_u32("tokenizer.ggml.bos_token_id", static_cast<uint32_t>(vocab.bos));
  if (vocab.eos >= 0) w.add_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(vocab.eos));
  if (vocab.unk >= 0)
    w.add_u32("tokenizer.ggml.unknown_token_id", static_cast<uint32_t>(vocab.unk));
  w.add_bool("tokenizer.ggml.add_bos_token", false);  // we never prepend a token to a prompt
  //! [metadata]

  for (const auto& [hf_name, param] : model.named_parameters()) {
    const std::string name = gguf_tensor_name(hf_name);
    Tensor t = param.value().to(DType::F32);
    if (is_conv1d_weight(hf_name)) t = t.transpose(0, 1);  // (in, out) -> (out, in)
    t = t.contiguous();
    // row-major (rows, cols) -> ggml ne = {cols, rows}: ne[0] is the fastest dimension
    const int64_t cols = t.shape().back();
    const int64_t rows = t.numel() / cols;
    const GgmlType type = gguf_tensor_type(name, t.dim(), cols, options.type);
    std::vector<int64_t> ne =
        t.dim() == 1 ? std::vector<int64_t>{cols} : std::vector<int64_t>{cols, rows};
    w.add_tensor(name, std::move(ne), type, encode_tensor(t.span_f32(), rows, cols, type));
  }
  return w;
}

GgufExportReport export_gguf(const std::string& model_dir, const std::string& out_path,
                             const GgufExportOptions& options) {
  const GPT model = load_model(model_dir);
  const std::unique_ptr<Tokenizer> tokenizer = load_tokenizer_from_dir(model_dir);
  GgufExportReport report;
  const GgufWriter w = gguf_from_model(model, *tokenizer, options, &report.notes);
  const std::vector<std::byte> bytes = w.bytes();
  write_file_atomic(out_path, bytes);
  report.n_tensors = w.n_tensors();
  report.n_kv = w.n_kv();
  report.bytes = static_cast<int64_t>(bytes.size());
  return report;
}

}  // namespace cpurich
