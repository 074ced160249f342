// test_gguf_export.cpp: `cpurich export` read back by an independent GGUF
// reader (gguf_reader.h): header, metadata, tensor table, alignment, and every
// tensor's bytes recomputed here from the model (transposed by plain loops,
// F16 by f32_to_f16, blocks by the reference row quantizers).
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "gguf_reader.h"
#include "infer/gguf_export.h"
#include "nn/gpt.h"
#include "tensor/half.h"
#include "tensor/quant_formats.h"
#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "tokenizer/utf8.h"
#include "util/file_util.h"

using namespace cpurich;
using cpurich::test::GgufFile;
using cpurich::test::TempDir;

namespace {

const std::string kCorpus =
    "The cafe sold creme brulee for 5 euros. Le cafe est a cote. \n"
    "Prices: 3 \xE2\x82\xAC, 4 \xE2\x82\xAC. na\xC3\xAFve caf\xC3\xA9!\n";

GPTConfig tiny_config(int64_t n_embd, int64_t vocab) {
  return GPTConfig{
      .n_layer = 2, .n_head = 2, .n_embd = n_embd, .n_positions = 16, .vocab_size = vocab};
}

GgufFile export_and_parse(const GPT& model, const Tokenizer& tok, GgufExportOptions options) {
  const std::vector<std::byte> b = gguf_from_model(model, tok, options).bytes();
  std::vector<uint8_t> u(b.size());
  for (std::size_t i = 0; i < b.size(); ++i) u[i] = static_cast<uint8_t>(b[i]);
  return cpurich::test::parse_gguf(std::move(u));
}

// The model's tensor as llama.cpp stores it: row-major (rows, cols) with cols = ne[0].
struct Expected {
  std::string gguf_name;
  std::vector<float> w;  // (rows, cols)
  int64_t rows, cols;
  bool is_1d;
};

std::vector<Expected> expected_tensors(const GPT& model) {
  // Written out by hand (not via gguf_tensor_name) so a wrong map fails here.
  std::map<std::string, std::string> names = {{"wte.weight", "token_embd.weight"},
                                              {"wpe.weight", "position_embd.weight"},
                                              {"ln_f.weight", "output_norm.weight"},
                                              {"ln_f.bias", "output_norm.bias"}};
  const std::vector<std::pair<std::string, std::string>> block = {
      {"ln_1", "attn_norm"}, {"attn.c_attn", "attn_qkv"}, {"attn.c_proj", "attn_output"},
      {"ln_2", "ffn_norm"},  {"mlp.c_fc", "ffn_up"},      {"mlp.c_proj", "ffn_down"}};
  for (int64_t l = 0; l < model.config().n_layer; ++l)
    for (const auto& [ours, theirs] : block)
      for (const std::string leaf : {"weight", "bias"})
        names["h." + std::to_string(l) + "." + ours + "." + leaf] =
            "blk." + std::to_string(l) + "." + theirs + "." + leaf;
  std::vector<Expected> out;
  for (const auto& [hf, t] : model.state_dict()) {
    REQUIRE(names.count(hf) == 1);
    Expected e{.gguf_name = names.at(hf), .is_1d = t.dim() == 1};
    const auto v = t.to_vector();
    const bool conv1d = t.dim() == 2 && hf != "wte.weight" && hf != "wpe.weight";
    if (e.is_1d) {
      e.rows = 1;
      e.cols = t.size(0);
      e.w.assign(v.begin(), v.end());
    } else if (conv1d) {  // stored (in, out): transpose to (out, in)
      const int64_t in = t.size(0), outd = t.size(1);
      e.rows = outd;
      e.cols = in;
      e.w.resize(in * outd);
      for (int64_t o = 0; o < outd; ++o)
        for (int64_t i = 0; i < in; ++i) e.w[o * in + i] = static_cast<float>(v[i * outd + o]);
    } else {
      e.rows = t.size(0);
      e.cols = t.size(1);
      e.w.assign(v.begin(), v.end());
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<uint8_t> expected_bytes(const Expected& e, uint32_t ggml_type) {
  std::vector<uint8_t> b;
  if (ggml_type == 0) {
    b.resize(e.w.size() * 4);
    std::memcpy(b.data(), e.w.data(), b.size());
  } else if (ggml_type == 1) {
    for (float x : e.w) {
      const uint16_t h = f32_to_f16(x);
      b.push_back(h & 0xFF);
      b.push_back(h >> 8);
    }
  } else {
    const int64_t block = ggml_type == 8 ? 34 : ggml_type == 2 ? 18 : 20;
    b.resize(e.rows * e.cols / 32 * block);
    for (int64_t r = 0; r < e.rows; ++r) {
      const float* x = e.w.data() + r * e.cols;
      uint8_t* y = b.data() + r * (e.cols / 32 * block);
      if (ggml_type == 8) quantize_row_q8_0_ref(x, y, e.cols);
      if (ggml_type == 2) quantize_row_q4_0_ref(x, y, e.cols);
      if (ggml_type == 3) quantize_row_q4_1_ref(x, y, e.cols);
    }
  }
  return b;
}

uint64_t u32_key(const GgufFile& f, const std::string& key) {
  REQUIRE(f.kv.count(key) == 1);
  CHECK(f.kv.at(key).type == 4);
  return f.kv.at(key).u;
}
std::string str_key(const GgufFile& f, const std::string& key) {
  REQUIRE(f.kv.count(key) == 1);
  CHECK(f.kv.at(key).type == 8);
  return f.kv.at(key).s;
}

}  // namespace

TEST_CASE("GGUF export: header, metadata and every tensor for each type", "[gguf]") {
  const CharTokenizer tok = CharTokenizer::train(kCorpus);
  const GPT model(tiny_config(64, tok.vocab_size()), 7);
  struct Case {
    GgufFileType type;
    uint32_t ggml;   // type of the 2-D weights
    uint32_t ftype;  // general.file_type
  };
  for (const Case c : {Case{GgufFileType::F32, 0, 0}, Case{GgufFileType::F16, 1, 1},
                       Case{GgufFileType::Q8_0, 8, 7}, Case{GgufFileType::Q4_0, 2, 2},
                       Case{GgufFileType::Q4_1, 3, 3}}) {
    INFO("type " << gguf_file_type_name(c.type));
    const GgufFile f = export_and_parse(model, tok, {.type = c.type});
    CHECK(f.version == 3);
    CHECK(f.alignment == 32);
    CHECK(f.data_start % 32 == 0);
    CHECK(str_key(f, "general.architecture") == "gpt2");
    CHECK(u32_key(f, "general.file_type") == c.ftype);
    CHECK(u32_key(f, "gpt2.context_length") == 16);
    CHECK(u32_key(f, "gpt2.embedding_length") == 64);
    CHECK(u32_key(f, "gpt2.feed_forward_length") == 256);
    CHECK(u32_key(f, "gpt2.block_count") == 2);
    CHECK(u32_key(f, "gpt2.attention.head_count") == 2);
    REQUIRE(f.kv.count("gpt2.attention.layer_norm_epsilon") == 1);
    CHECK(f.kv.at("gpt2.attention.layer_norm_epsilon").type == 6);
    CHECK(f.kv.at("gpt2.attention.layer_norm_epsilon").f == static_cast<double>(1e-5f));
    CHECK(str_key(f, "tokenizer.ggml.model") == "gpt2");
    CHECK(str_key(f, "tokenizer.ggml.pre") == "gpt-2");
    REQUIRE(f.kv.count("tokenizer.ggml.add_bos_token") == 1);
    CHECK(f.kv.at("tokenizer.ggml.add_bos_token").type == 7);
    CHECK(f.kv.at("tokenizer.ggml.add_bos_token").u == 0);
    CHECK(f.kv.at("tokenizer.ggml.tokens").arr_type == 8);
    CHECK(f.kv.at("tokenizer.ggml.token_type").arr_type == 5);
    CHECK(f.kv.at("tokenizer.ggml.merges").arr_type == 8);
    CHECK(f.kv.count("tokenizer.ggml.eos_token_id") == 0);  // char tokenizer: none

    const auto expected = expected_tensors(model);
    REQUIRE(f.tensors.size() == expected.size());
    CHECK(f.tensors.size() == 4 + 12 * 2);
    for (const Expected& e : expected) {
      INFO(e.gguf_name);
      const auto& t = f.tensor(e.gguf_name);
      if (e.is_1d) {
        CHECK(t.ne == std::vector<int64_t>{e.cols});
      } else {
        CHECK(t.ne == std::vector<int64_t>{e.cols, e.rows});  // ne[0] = input dim
      }
      const bool quantized = !e.is_1d && e.gguf_name != "position_embd.weight";
      const uint32_t want_type = quantized ? c.ggml : 0;
      CHECK(t.type == want_type);
      CHECK(f.data(e.gguf_name) == expected_bytes(e, want_type));
    }
    CHECK(f.tensor("blk.1.attn_qkv.weight").ne == std::vector<int64_t>{64, 192});
    CHECK(f.tensor("blk.0.ffn_down.weight").ne == std::vector<int64_t>{256, 64});
    CHECK(f.tensor("token_embd.weight").ne == std::vector<int64_t>{64, tok.vocab_size()});
  }
}

TEST_CASE("GGUF export: alignment option and rows that are not whole blocks", "[gguf]") {
  const CharTokenizer tok = CharTokenizer::train(kCorpus);
  // n_embd 16: rows along n_embd cannot be q8_0 blocks of 32 -> F16 (llama-quantize's
  // fallback); ffn_down has rows of 4 * 16 = 64 and is quantized.
  const GPT model(tiny_config(16, tok.vocab_size()), 3);
  const GgufFile f = export_and_parse(model, tok, {.type = GgufFileType::Q8_0, .alignment = 64});
  CHECK(f.alignment == 64);
  CHECK(f.data_start % 64 == 0);
  for (const auto& t : f.tensors) CHECK(t.offset % 64 == 0);
  CHECK(f.tensor("token_embd.weight").type == 1);
  CHECK(f.tensor("blk.0.attn_qkv.weight").type == 1);
  CHECK(f.tensor("blk.0.ffn_down.weight").type == 8);
  CHECK(f.tensor("position_embd.weight").type == 0);
  CHECK(f.tensor("blk.0.ffn_up.bias").type == 0);
  for (const Expected& e : expected_tensors(model)) {
    INFO(e.gguf_name);
    CHECK(f.data(e.gguf_name) == expected_bytes(e, f.tensor(e.gguf_name).type));
  }
  CHECK_THROWS_AS(GgufWriter(48), std::invalid_argument);
}

// llama.cpp's BPE on one pre-split word, as its code does it: map the bytes,
// one symbol per character of the mapped text, merge the lowest-ranked
// adjacent pair until none is left, look every symbol up.
std::vector<int32_t> llama_style_bpe(const std::string& word,
                                     const std::vector<std::string>& tokens,
                                     const std::vector<std::string>& merges) {
  std::map<std::pair<std::string, std::string>, int> rank;
  for (std::size_t i = 0; i < merges.size(); ++i) {
    const std::size_t sp = merges[i].find(' ', 1);
    rank[{merges[i].substr(0, sp), merges[i].substr(sp + 1)}] = static_cast<int>(i);
  }
  std::vector<std::string> sym;
  for (char32_t cp : utf8::decode(bytes_to_unicode(word))) sym.push_back(utf8::encode(cp));
  for (;;) {
    int best = -1;
    std::size_t at = 0;
    for (std::size_t i = 0; i + 1 < sym.size(); ++i) {
      auto it = rank.find({sym[i], sym[i + 1]});
      if (it != rank.end() && (best < 0 || it->second < best)) {
        best = it->second;
        at = i;
      }
    }
    if (best < 0) break;
    sym[at] += sym[at + 1];
    sym.erase(sym.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  std::vector<int32_t> ids;
  for (const std::string& s : sym) {
    const auto it = std::find(tokens.begin(), tokens.end(), s);
    ids.push_back(it == tokens.end() ? -1 : static_cast<int32_t>(it - tokens.begin()));
  }
  return ids;
}

TEST_CASE("GGUF vocab: char tokenizer tokens are byte-mapped characters, multi-byte ones merged",
          "[gguf]") {
  const CharTokenizer tok = CharTokenizer::train(kCorpus);
  const GgufVocab v = gguf_vocab(tok, tok.vocab_size());
  REQUIRE(static_cast<int32_t>(v.tokens.size()) == tok.vocab_size());
  for (int32_t t : v.token_types) CHECK(t == 1);
  CHECK(v.tokens[tok.encode(" ")[0]] == "\xC4\xA0");   // 'Ġ'
  CHECK(v.tokens[tok.encode("\n")[0]] == "\xC4\x8A");  // 'Ċ'
  CHECK(v.tokens[tok.encode("a")[0]] == "a");
  CHECK(v.tokens[tok.encode("\xC3\xA9")[0]] == bytes_to_unicode("\xC3\xA9"));  // é
  // é: 1 merge; €: 2 (E2 82 -> E282, E282 AC); ï shares é's lead byte C3: 1 more.
  CHECK(v.merges.size() == 4);
  CHECK(v.eos == -1);
  CHECK(v.notes.size() == 1);  // the missing end-of-text token
  // llama.cpp's procedure on the mapped text gives our ids, character by character.
  std::vector<int32_t> ours = tok.encode(kCorpus);
  std::vector<int32_t> theirs = llama_style_bpe(kCorpus, v.tokens, v.merges);
  CHECK(theirs == ours);
}

TEST_CASE("GGUF vocab: byte-level BPE keeps its merges and specials", "[gguf]") {
  std::string corpus;
  for (int i = 0; i < 20; ++i)
    corpus += "### Human: Where is the cafe?<|endoftext|>### Assistant: The caf\xC3\xA9 is near.\n";
  const BpeTokenizer tok = train_bpe(corpus, {.vocab_size = 300});
  const GgufVocab v = gguf_vocab(tok, tok.vocab_size() + 3);
  REQUIRE(v.tokens.size() == tok.tokens().size() + 3);
  REQUIRE(v.merges.size() == tok.merges().size());
  const int32_t eot = tok.special_id("<|endoftext|>");
  const int32_t human = tok.special_id("### Human:");
  CHECK(v.tokens[eot] == "<|endoftext|>");
  CHECK(v.token_types[eot] == 3);
  CHECK(v.tokens[human] == "### Human:");  // raw text, not byte-mapped
  CHECK(v.token_types[human] == 4);
  CHECK(v.bos == eot);
  CHECK(v.eos == eot);
  for (int64_t id = tok.vocab_size(); id < tok.vocab_size() + 3; ++id)
    CHECK(v.token_types[id] == 5);
  CHECK(v.tokens[' '] == "\xC4\xA0");
  const auto [a, b] = tok.merges()[0];
  CHECK(v.merges[0] == bytes_to_unicode(tok.tokens()[a]) + " " + bytes_to_unicode(tok.tokens()[b]));
  // Each pre-split word through llama.cpp's merge loop gives our ids.
  const std::string text = " Where is the cafe? The caf\xC3\xA9 is near.\n Where";
  std::vector<int32_t> theirs;
  for (std::string_view word : pre_split(text)) {
    const auto ids = llama_style_bpe(std::string(word), v.tokens, v.merges);
    theirs.insert(theirs.end(), ids.begin(), ids.end());
  }
  CHECK(theirs == tok.encode(text));

  CHECK_THROWS_AS(gguf_vocab(tok, tok.vocab_size() - 1), std::invalid_argument);
}

TEST_CASE("GGUF names and types", "[gguf]") {
  CHECK(gguf_tensor_name("h.11.mlp.c_proj.bias") == "blk.11.ffn_down.bias");
  CHECK(gguf_tensor_name("h.0.attn.c_attn.weight") == "blk.0.attn_qkv.weight");
  CHECK_THROWS_AS(gguf_tensor_name("h.x.ln_1.weight"), std::invalid_argument);
  CHECK_THROWS_AS(gguf_tensor_name("lm_head.weight"), std::invalid_argument);
  CHECK(parse_gguf_file_type("q4_1") == GgufFileType::Q4_1);
  CHECK_THROWS_WITH(parse_gguf_file_type("q5_0"),
                    "unknown GGUF type 'q5_0' (valid: f32, f16, q8_0, q4_0, q4_1)");
  CHECK(gguf_tensor_type("blk.0.attn_norm.weight", 1, 64, GgufFileType::Q4_0) == GgmlType::F32);
  CHECK(gguf_tensor_type("token_embd.weight", 2, 64, GgufFileType::Q4_0) == GgmlType::Q4_0);
  CHECK(gguf_tensor_type("token_embd.weight", 2, 64, GgufFileType::F16) == GgmlType::F16);
}

namespace {
const std::string kCli = std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";
int run(const std::string& args, const std::string& out) {
  const int status = std::system((kCli + " " + args + " > " + out + " 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
}  // namespace

TEST_CASE("cpurich export writes the file, bad options fail with one line", "[gguf][cli]") {
  if (!std::filesystem::exists(kCli)) {
    WARN("cpurich not built, skipping: " << kCli);
    return;
  }
  TempDir dir("gguf_cli");
  const CharTokenizer tok = CharTokenizer::train(kCorpus);
  const GPT model(tiny_config(32, tok.vocab_size()), 5);
  save_model(model, dir.file("m"));
  save_tokenizer(tok, dir.file("m/tokenizer.json"));
  const std::string log = dir.file("log.txt");
  REQUIRE(run("export --model " + dir.file("m") + " --out " + dir.file("m.gguf") + " --type q8_0",
              log) == 0);
  const std::string text = read_file(dir.file("m.gguf"));
  const GgufFile f = cpurich::test::parse_gguf(std::vector<uint8_t>(text.begin(), text.end()));
  CHECK(f.kv.at("general.file_type").u == 7);
  CHECK(f.tensor("blk.0.ffn_up.weight").type == 8);
  // The CLI writes exactly the library's bytes for the model it loads.
  const auto b =
      gguf_from_model(load_model(dir.file("m")), tok, {.type = GgufFileType::Q8_0}).bytes();
  CHECK(std::equal(f.bytes.begin(), f.bytes.end(), b.begin(), b.end(),
                   [](uint8_t x, std::byte y) { return x == static_cast<uint8_t>(y); }));

  auto one_error_line = [&](const std::string& args, const std::string& what) {
    INFO(args);
    CHECK(run(args, log) == 1);
    const std::string out = read_file(log);
    CHECK_THAT(out, Catch::StartsWith("cpurich: error: ") && Catch::Contains(what));
    CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  };
  one_error_line(
      "export --model " + dir.file("m") + " --out " + dir.file("x.gguf") + " --type q5_0",
      "unknown GGUF type 'q5_0'");
  one_error_line("export --model " + dir.file("nope") + " --out " + dir.file("x.gguf"),
                 "does not exist");
  std::filesystem::remove(dir.file("m/tokenizer.json"));
  one_error_line("export --model " + dir.file("m") + " --out " + dir.file("x.gguf"),
                 "no tokenizer");
  CHECK(!std::filesystem::exists(dir.file("x.gguf")));
}
