// cmd_tokenizer.cpp: `cpurich tokenizer train`, `cpurich encode`, `cpurich decode`.
//   tokenizer train --corpus FILE --kind char|bpe [--vocab N] [--no-pre-split] --out FILE
//   encode --model DIR | --tokenizer FILE --text FILE   prints ids separated by spaces
//   decode --model DIR | --tokenizer FILE --ids FILE    prints the text
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_bpe.h"
#include "tokenizer/tokenizer_char.h"
#include "util/file_util.h"

namespace cpurich::cli {

namespace {

struct TrainArgs {
  std::string corpus, kind, out;
  int vocab = 512;
  bool pre_split = true;
  bool unk = false;
};

// Options are checked here (not by CLI11 validators) so that a bad value is
// one `cpurich: error:` line with exit code 1, like every other bad input.
void run_train(const TrainArgs& a, bool vocab_given) {
  const std::string corpus = read_text_input("--corpus", a.corpus);
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<Tokenizer> tok;
  if (a.kind != "char" && a.kind != "bpe") {
    throw std::invalid_argument("--kind must be char or bpe, got '" + a.kind + "'");
  }
  if (a.kind == "char") {
    if (vocab_given) throw std::invalid_argument("--vocab applies to --kind bpe only");
    tok = std::make_unique<CharTokenizer>(CharTokenizer::train(corpus, a.unk));
  } else {
    if (a.unk) throw std::invalid_argument("--unk applies to --kind char only");
    BpeOptions o;
    o.vocab_size = a.vocab;
    o.pre_split = a.pre_split;
    tok = std::make_unique<BpeTokenizer>(train_bpe(corpus, o));
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  save_tokenizer(*tok, a.out);
  const std::size_t n_tokens = tok->encode(corpus).size();
  std::printf(
      "wrote %s: %s tokenizer, vocab %d, %.3f tokens/byte on the corpus, trained in %.2f s\n",
      a.out.c_str(), a.kind.c_str(), tok->vocab_size(),
      corpus.empty() ? 0.0 : static_cast<double>(n_tokens) / corpus.size(), s);
}

struct CodecArgs {
  std::string model, tokenizer, input;
};

std::unique_ptr<Tokenizer> load_for(const CodecArgs& a) {
  if (a.model.empty() == a.tokenizer.empty()) {
    throw std::invalid_argument("give exactly one of --model DIR or --tokenizer FILE");
  }
  return a.model.empty() ? load_tokenizer(a.tokenizer) : load_tokenizer_from_dir(a.model);
}

void run_encode(const CodecArgs& a) {
  const auto tok = load_for(a);
  const std::vector<int32_t> ids = tok->encode(read_text_input("--text", a.input));
  std::string out;
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? " " : "") + std::to_string(ids[i]);
  std::printf("%s\n", out.c_str());
}

std::vector<int32_t> parse_ids(const std::string& text, const std::string& path) {
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    std::size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(word, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != word.size() || v < 0 || v > INT32_MAX) {
      throw std::invalid_argument(path + ": '" + word + "' is not a token id");
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

void run_decode(const CodecArgs& a) {
  const auto tok = load_for(a);
  const std::string text = tok->decode(parse_ids(read_text_input("--ids", a.input), a.input));
  std::fwrite(text.data(), 1, text.size(), stdout);
}

void add_source_options(CLI::App* sub, CodecArgs& a) {
  sub->add_option("--model", a.model, "Model directory (tokenizer.json or vocab.json + merges.txt)")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--tokenizer", a.tokenizer, "A tokenizer.json file")->check(CLI::ExistingFile);
}

}  // namespace

void register_tokenizer(CLI::App& app) {
  auto* tok = app.add_subcommand("tokenizer", "Train tokenizers");
  tok->require_subcommand(1);
  auto t = std::make_shared<TrainArgs>();
  auto* train = tok->add_subcommand("train", "Train a char-level or byte-level BPE tokenizer");
  train->add_option("--corpus", t->corpus, "Training text (UTF-8 for char)")
      ->required()
      ->check(CLI::ExistingFile);
  train->add_option("--kind", t->kind, "char or bpe")
      ->required()
      ->check(CLI::IsMember({"char", "bpe"}));
  auto* vocab =
      train
          ->add_option("--vocab", t->vocab, "BPE vocabulary size (256 bytes + merges + 3 specials)")
          ->capture_default_str()
          ->check(CLI::Range(259, 1 << 20));
  train->add_flag("--pre-split,!--no-pre-split", t->pre_split,
                  "Split into GPT-2-style words before merging (default on)");
  train->add_flag("--unk", t->unk, "char: map unknown characters to <unk> instead of failing");
  train->add_option("--out", t->out, "Output tokenizer.json")->required()->check(output_file());
  train->callback([t, vocab] { run_train(*t, vocab->count() > 0); });

  auto e = std::make_shared<CodecArgs>();
  auto* enc = app.add_subcommand("encode", "Text file -> token ids (printed separated by spaces)");
  add_source_options(enc, *e);
  enc->add_option("--text", e->input, "Text file to encode")->required()->check(CLI::ExistingFile);
  enc->callback([e] { run_encode(*e); });

  auto d = std::make_shared<CodecArgs>();
  auto* dec = app.add_subcommand("decode", "Token ids (file, separated by whitespace) -> text");
  add_source_options(dec, *d);
  dec->add_option("--ids", d->input, "File of token ids")->required()->check(CLI::ExistingFile);
  dec->callback([d] { run_decode(*d); });
}

}  // namespace cpurich::cli
