// fuzz/make_seeds.cpp: writes the seed corpus (fuzz/corpus/<target>/) with the
// project's own writers: a tiny model directory, its quantized twins, a LoRA
// adapter, a checkpoint, tokenizer files, a GGUF export and API requests, plus
// a few malformed files per target for the fuzzer to start from. Everything
// is tiny (a 1-layer model of width 8 or 32) so the corpus stays a few hundred KB.
//   build/fuzz/fuzz/fuzz_make_seeds fuzz/corpus
// Files are named by what they hold; running it again rewrites the same bytes.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fuzz/fuzz_util.h"
#include "infer/gguf_writer.h"
#include "nn/gpt.h"
#include "nn/lora.h"
#include "nn/lora_io.h"
#include "nn/quant_io.h"
#include "nn/safetensors.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "util/file_util.h"

namespace fs = std::filesystem;
using namespace cpurich;

namespace {

std::string out_root;

void put(const std::string& target, const std::string& name, const std::string& bytes) {
  const fs::path dir = fs::path(out_root) / target;
  fs::create_directories(dir);
  write_file_atomic((dir / name).string(), bytes);
}

/// Files joined with the separator of fuzz_util.h.
std::string frame(const std::vector<std::string>& files) {
  std::string out;
  for (size_t i = 0; i < files.size(); ++i) {
    if (i) out += fuzz::kFileSeparator;
    out += files[i];
  }
  return out;
}

std::string u64_le(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[static_cast<size_t>(i)] = static_cast<char>(v >> (8 * i));
  return s;
}

/// A safetensors file from a header text and a data buffer (for hand-made cases).
std::string raw_safetensors(const std::string& header, const std::string& buffer) {
  return u64_le(header.size()) + header + buffer;
}

std::string tmp_dir(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / ("cpurich_seeds_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

const char* const kText = "Hello, world! The cat sat on the mat. 123 \xc3\xa9t\xc3\xa9";

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 1;
  }
  out_root = argv[1];
  const GPTConfig tiny{.n_layer = 1, .n_head = 2, .n_embd = 8, .n_positions = 8, .vocab_size = 16};
  GPT model(tiny, 1);

  // ---- model directory + safetensors ----------------------------------------
  const std::string mdir = tmp_dir("model");
  save_model(model, mdir);
  const std::string config = read_file(mdir + "/config.json");
  const std::string weights = read_file(mdir + "/model.safetensors");
  put("model_dir", "valid_f32", frame({config, weights}));
  put("model_dir", "missing_weights", config);
  put("model_dir", "config_wider_than_weights",
      frame({R"({"n_layer":1,"n_head":2,"n_embd":16,"n_positions":8,"vocab_size":16})", weights}));
  put("model_dir", "config_not_object", frame({"[1,2]", weights}));
  put("safetensors", "model_f32", weights);
  put("safetensors", "f16_bf16_u8",
      raw_safetensors(R"({"__metadata__":{"format":"pt"},)"
                      R"("a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                      R"("b":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},)"
                      R"("c":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}})",
                      std::string("\x00\x3c\x00\xc0\x80\x3f\x00\x40\x01\x02\x03", 11)));
  put("safetensors", "overlap",
      raw_safetensors(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                      std::string(12, '\0')));
  put("safetensors", "huge_shape",
      raw_safetensors(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],)"
                      R"("data_offsets":[0,8]}})",
                      std::string(8, '\0')));
  put("safetensors", "truncated", weights.substr(0, weights.size() / 2));
  put("safetensors", "header_length_huge", u64_le(1ull << 62) + "{}");

  // ---- quantized models -------------------------------------------------------
  const GPTConfig q_config{
      .n_layer = 1, .n_head = 2, .n_embd = 32, .n_positions = 16, .vocab_size = 64};
  GPT q_model(q_config, 2);
  for (const QuantFormatInfo& info : quant_formats()) {
    const std::string qdir = tmp_dir("quant");
    save_quantized_model(q_model, quantize_model(q_model, {.format = info.format}), qdir);
    const std::string name = "q_" + std::string(info.name);
    put("quant", name, read_file(qdir + "/model.safetensors"));
    if (info.format == QuantFormat::Q4_0)  // one quantized model directory for model_dir too
      put("model_dir", name,
          frame({read_file(qdir + "/config.json"), read_file(qdir + "/model.safetensors")}));
  }

  // ---- LoRA adapter (base: GPT(tiny, seed 1), as in fuzz/lora_adapter.cpp) ---
  {
    GPT base(tiny, 1);
    const LoraOptions o{.rank = 2, .alpha = 4.0};
    add_lora(base, o);
    const std::string adir = tmp_dir("adapter");
    save_lora_adapter(base, o, "tiny", adir);
    const std::string acfg = read_file(adir + "/adapter_config.json");
    const std::string aw = read_file(adir + "/adapter_model.safetensors");
    put("lora_adapter", "valid", frame({acfg, aw}));
    put("lora_adapter", "no_checksum",
        frame({R"({"peft_type":"LORA","r":2,"lora_alpha":4,"target_modules":["c_attn"],)"
               R"("fan_in_fan_out":true})",
               aw}));
    put("lora_adapter", "missing_weights", acfg);
  }

  // ---- tokenizers -------------------------------------------------------------
  const CharTokenizer chars = CharTokenizer::train(kText);
  put("tokenizer_json", "char", frame({chars.to_json().dump(), kText}));
  put("tokenizer_json", "char_unk",
      frame({CharTokenizer::train("abc", true).to_json().dump(), "abcd"}));
  const BpeTokenizer bpe = train_bpe(std::string(kText) + " the the cat cat", {.vocab_size = 280});
  put("tokenizer_json", "bpe", frame({bpe.to_json().dump(), std::string(kText) + "### Human:"}));
  put("tokenizer_json", "bad_kind", R"({"kind":"wordpiece","version":1})");
  {
    // GPT-2's files from the trained BPE: vocab.json in the byte-to-unicode alphabet.
    nlohmann::json vocab = nlohmann::json::object();
    for (size_t i = 0; i < bpe.tokens().size(); ++i)
      vocab[bytes_to_unicode(bpe.tokens()[i])] = static_cast<int64_t>(i);
    std::string merges = "#version: 0.2\n";
    for (const auto& m : bpe.merges())
      merges += bytes_to_unicode(bpe.tokens()[static_cast<size_t>(m.first)]) + " " +
                bytes_to_unicode(bpe.tokens()[static_cast<size_t>(m.second)]) + "\n";
    put("gpt2_tokenizer", "trained", frame({vocab.dump(), merges, kText}));
    put("gpt2_tokenizer", "merge_of_unknown", frame({vocab.dump(), "zz qq\n", kText}));
    put("gpt2_tokenizer", "ids_out_of_range", frame({R"({"a":0,"b":5})", "", "ab"}));
  }

  // ---- checkpoint -------------------------------------------------------------
  {
    GPT m(tiny, 3);
    AdamW opt(m.named_parameters(), {});
    const std::string cdir = tmp_dir("checkpoint");
    save_checkpoint(cdir, m, chars, opt, TrainState{.iter = 2, .config = tiny_config()});
    const std::string state = read_file(cdir + "/train_state.json");
    const std::string w = read_file(cdir + "/model.safetensors");
    const std::string o = read_file(cdir + "/optimizer.safetensors");
    put("checkpoint", "valid", frame({state, w, o}));
    put("checkpoint", "torn_weights", frame({state, w.substr(0, w.size() - 9), o}));
    put("checkpoint", "state_only", state);
  }

  // ---- GGUF (written by the library's writer, read by the tests' parser) -----
  {
    GgufWriter w;
    w.add_string("general.architecture", "gpt2");
    w.add_u32("gpt2.context_length", 8);
    w.add_f32("gpt2.attention.layer_norm_epsilon", 1e-5f);
    w.add_bool("tokenizer.ggml.add_bos_token", false);
    w.add_i32("tokenizer.ggml.eos_token_id", 2);
    const std::vector<std::string> tokens = {"a", "b", "<|endoftext|>"};
    w.add_string_array("tokenizer.ggml.tokens", tokens);
    w.add_i32_array("tokenizer.ggml.token_type", std::vector<int32_t>{1, 1, 3});
    w.add_tensor("a.weight", {4, 2}, GgmlType::F32, std::vector<uint8_t>(32, 1));
    w.add_tensor("b.weight", {32, 1}, GgmlType::Q8_0, std::vector<uint8_t>(34, 2));
    w.add_tensor("c.weight", {32, 1}, GgmlType::Q4_0, std::vector<uint8_t>(18, 3));
    const std::vector<std::byte> b = w.bytes();
    const std::string bytes(reinterpret_cast<const char*>(b.data()), b.size());
    put("gguf", "small", bytes);
    put("gguf", "truncated", bytes.substr(0, bytes.size() / 3));
  }

  // ---- OpenAI request bodies (first byte: 0 completion, 1 chat) ---------------
  put("openai_request", "completion",
      std::string("\x00", 1) +
          R"({"prompt":"Once upon","max_tokens":8,"temperature":0.7,"top_p":0.9,"stop":["\n"]})");
  put("openai_request", "chat",
      "\x01"
      R"({"model":"base","messages":[{"role":"system","content":"Be brief."},)"
      R"({"role":"user","content":"Hi"}],"stream":true,"top_k":5,"seed":3})");
  put("openai_request", "chat_bad_role",
      "\x01"
      R"({"messages":[{"role":"robot","content":"Hi"}]})");
  put("openai_request", "completion_bad_type", std::string("\x00", 1) + R"({"prompt":5})");
  std::printf("seeds written to %s\n", out_root.c_str());
  return 0;
}
