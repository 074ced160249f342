// gguf_export.h: a trained GPT as a GGUF file that llama.cpp runs as its
// `gpt2` architecture (`cpurich export`).
//
// What it teaches: moving a model between frameworks is renaming, reordering
// and re-encoding, never retraining. Our parameters carry Hugging Face GPT-2
// names and Conv1D's (in, out) layout; llama.cpp wants its own names
// (token_embd.weight, blk.N.attn_qkv.weight, ...), every matrix as (out, in)
// so that ne = {in, out} and quantized blocks run along the input dimension,
// the hyper-parameters as gpt2.* metadata, and the tokenizer as GPT-2 BPE
// vocabulary strings (bytes mapped to printable characters) plus merges.
// Which tensors are quantized follows `llama-quantize --pure`: 2-D weights
// take the file's type, 1-D tensors (LayerNorms, biases) stay F32, and so does
// position_embd (llama.cpp never quantizes positional embeddings).
// docs/course/gguf.md walks through a file.
//
// Pipeline position: trained model dir -> [GGUF] -> llama.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "infer/gguf_writer.h"
#include "nn/gpt.h"
#include "tokenizer/tokenizer.h"

namespace cpurich {

/// The file types of `cpurich export --type`.
enum class GgufFileType { F32, F16, Q8_0, Q4_0, Q4_1 };

/// "f32", "f16", "q8_0", "q4_0" or "q4_1"; throws std::invalid_argument
/// (one line, listing the valid names) otherwise.
GgufFileType parse_gguf_file_type(std::string_view name);
std::string_view gguf_file_type_name(GgufFileType type);
/// llama.cpp's general.file_type (enum llama_ftype): ALL_F32 = 0, MOSTLY_F16 = 1,
/// MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7.
uint32_t gguf_llama_ftype(GgufFileType type);

/// llama.cpp's name for one of our (HF GPT-2) parameter names, e.g.
/// "h.3.mlp.c_fc.weight" -> "blk.3.ffn_up.weight"; throws
/// std::invalid_argument on a name GPT-2 does not have.
std::string gguf_tensor_name(const std::string& hf_name);
/// The ggml type a tensor gets in a file of `type`: `n_dims` and `row`
/// (ne[0], the input dimension) of the tensor as llama.cpp sees it. A
/// quantized type whose row is not whole blocks of 32 falls back to F16,
/// as llama-quantize does.
GgmlType gguf_tensor_type(const std::string& gguf_name, int64_t n_dims, int64_t row,
                          GgufFileType type);

/// Token types of tokenizer.ggml.token_type (llama.cpp's enum llama_token_type).
enum class GgufTokenType : int32_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5
};

/// Our tokenizer in llama.cpp's `gpt2` BPE vocabulary.
struct GgufVocab {
  std::vector<std::string> tokens;   ///< by id: byte-mapped text, or a special's raw text
  std::vector<int32_t> token_types;  ///< GgufTokenType by id
  std::vector<std::string> merges;   ///< "left right", in rank order
  int32_t bos = -1;                  ///< -1: not written
  int32_t eos = -1;                  ///< -1: not written
  int32_t unk = -1;                  ///< -1: not written
  /// Where llama.cpp will tokenize differently from us, one sentence each.
  std::vector<std::string> notes;
};

/// Builds the vocabulary of `n_vocab` ids (the model's; ids the tokenizer does
/// not have become unused placeholders). Throws std::invalid_argument if the
/// tokenizer has more ids than n_vocab or two ids would get the same text.
///   char: token = bytes_to_unicode(UTF-8 of the character); a character of
///         k > 1 bytes gets k - 1 merges joining its bytes left to right, so
///         llama.cpp rebuilds it from the pieces it splits the text into.
///   bpe:  token = bytes_to_unicode(its bytes), our merges in rank order;
///         specials keep their raw text ("<|endoftext|>" is Control and the
///         bos/eos id, the chat tags are UserDefined: matched anywhere in the text).
GgufVocab gguf_vocab(const Tokenizer& tokenizer, int64_t n_vocab);

/// Options of export_gguf.
struct GgufExportOptions {
  GgufFileType type = GgufFileType::F16;
  uint32_t alignment = kGgufDefaultAlignment;
  std::string name = "cpurich";  ///< general.name
};

/// The complete file for `model` + `tokenizer` (metadata, vocabulary, tensors).
/// `notes` (if given) receives the vocabulary's notes.
GgufWriter gguf_from_model(const GPT& model, const Tokenizer& tokenizer,
                           const GgufExportOptions& options,
                           std::vector<std::string>* notes = nullptr);

/// What export_gguf wrote.
struct GgufExportReport {
  int64_t n_tensors = 0;
  int64_t n_kv = 0;
  int64_t bytes = 0;
  std::vector<std::string> notes;  ///< tokenization gaps (GgufVocab::notes)
};

/// Loads the model directory (config.json, model.safetensors, tokenizer) and
/// writes `out_path` atomically.
GgufExportReport export_gguf(const std::string& model_dir, const std::string& out_path,
                             const GgufExportOptions& options);

}  // namespace cpurich
