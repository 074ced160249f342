// bad_input_table.h: what the bad-input test feeds `cpurich`: a valid command
// line for every subcommand, every option with its kind, and the bad values
// of each kind. Cases are the product subcommand x option x bad value.
//
// Adding a subcommand is one line in kCommands; adding an option is one line
// in kOptions (the test fails, naming it, until it is listed: the option list
// is read back from the program with `cpurich list-flags`).
//
// In argument strings, {name} is a fixture made once per test run (see
// test_bad_input.cpp) and {out} a fresh output path per case; a `with` string
// adjusts the command line for one option: "--flag VALUE" sets a value,
// "!--flag" removes one, "--flag" alone adds a switch.
#pragma once

#include <string>
#include <vector>

namespace cpurich::test {

/// What an option's value is, which decides its bad values.
enum class Kind {
  Int,         ///< an integer
  Float,       ///< a real number
  Text,        ///< free text
  Choice,      ///< one of a fixed set of words (or a small syntax, like 2:4)
  FileIn,      ///< a file that is read
  DirIn,       ///< a directory that is read (model, adapter, run)
  FileOrDir,   ///< a Q/A file or a world directory
  FileOut,     ///< a file that is written
  DirOut,      ///< a directory that is written
  DerivedOut,  ///< a directory written from --model's: must not be --model itself
  Switch,      ///< takes no value
};

/// A subcommand and a command line that succeeds with the fixtures.
struct Command {
  std::string name;           ///< as `cpurich list-flags` spells it ("tokenizer train")
  std::string args;           ///< options after the name
  std::string positional;     ///< positional arguments, after the options
  bool runs_forever = false;  ///< a server: the valid command line does not exit
};

/// One option of one subcommand.
struct Option {
  std::string command;
  std::string name;  ///< "--flag", or the positional's name
  Kind kind;
  std::string with = "";  ///< command-line changes that make the option matter
};

// Command lines kept small so that each runs in well under a second.
inline const std::vector<Command> kCommands = {
    {.name = "init",
     .args = "--out {out} --n-layer 1 --n-head 2 --n-embd 32 --block 16 --vocab 40"},
    {.name = "eval", .args = "--model {model} --ids {ids}"},
    {.name = "data world", .args = "--out {out} --people 6 --bios-per-person 1"},
    {.name = "tokenizer train", .args = "--corpus {corpus} --kind char --out {out}"},
    {.name = "encode", .args = "--model {model} --text {corpus}"},
    {.name = "decode", .args = "--model {model} --ids {ids}"},
    {.name = "pretrain",
     .args = "--corpus {corpus} --out {out} --n-layer 1 --n-head 2 --n-embd 16 --block 8 "
             "--batch 2 --iters 1 --eval-every 1 --eval-iters 1"},
    {.name = "sample", .args = "--model {model} --prompt Ada --max-new-tokens 2"},
    {.name = "chat", .args = "--model {model} --max-new-tokens 2"},
    {.name = "finetune",
     .args = "--model {model} --data {qa} --out {out} --iters 1 --batch 1 --rank 2"},
    {.name = "lora merge", .args = "--model {model} --adapter {adapter} --out {out}"},
    {.name = "qa-eval", .args = "--model {model} --data {qa} --max-new-tokens 2"},
    {.name = "prune", .args = "--model {model} --out {out}"},
    {.name = "lowrank", .args = "--model {model} --rank 2 --out {out}"},
    {.name = "export", .args = "--model {model} --out {out} --type f32"},
    {.name = "quantize", .args = "--model {model} --format q8_0 --out {out}"},
    {.name = "compare",
     .args = "--model {model} --text {corpus} --kl-tokens 4 --decode-tokens 2",
     .positional = "{quantized}"},
    {.name = "serve", .args = "--model {model} --port 0", .runs_forever = true},
    {.name = "sweep", .args = "--corpus {corpus} --out {out} --plan --sizes 2000"},
};

// Options pretrain refuses to change on --resume.
inline const std::string kFreshOnly =
    "!--n-layer !--n-head !--n-embd !--block !--batch !--eval-iters";

inline const std::vector<Option> kOptions = {
    {"init", "--out", Kind::DirOut},
    {"init", "--n-layer", Kind::Int},
    {"init", "--n-head", Kind::Int},
    {"init", "--n-embd", Kind::Int},
    {"init", "--block", Kind::Int},
    {"init", "--vocab", Kind::Int},
    {"init", "--seed", Kind::Int},
    {"init", "--threads", Kind::Int},

    {"eval", "--model", Kind::DirIn},
    {"eval", "--adapter", Kind::DirIn},
    {"eval", "--ids", Kind::FileIn},
    {"eval", "--text", Kind::FileIn, "!--ids"},
    {"eval", "--block", Kind::Int},
    {"eval", "--batch", Kind::Int},
    {"eval", "--json", Kind::Switch},
    {"eval", "--threads", Kind::Int},

    {"data world", "--out", Kind::DirOut},
    {"data world", "--people", Kind::Int},
    {"data world", "--zipf", Kind::Float},
    {"data world", "--bios-per-person", Kind::Int},
    {"data world", "--seed", Kind::Int},
    {"data world", "--qa-in-corpus", Kind::Switch},
    {"data world", "--name-every-sentence", Kind::Switch},
    {"data world", "--abstain-people", Kind::Int},

    {"tokenizer train", "--corpus", Kind::FileIn},
    {"tokenizer train", "--kind", Kind::Choice},
    {"tokenizer train", "--vocab", Kind::Int, "--kind bpe"},
    {"tokenizer train", "--pre-split", Kind::Switch, "--kind bpe"},
    {"tokenizer train", "--unk", Kind::Switch},
    {"tokenizer train", "--out", Kind::FileOut},

    {"encode", "--model", Kind::DirIn},
    {"encode", "--tokenizer", Kind::FileIn, "!--model"},
    {"encode", "--text", Kind::FileIn},
    {"decode", "--model", Kind::DirIn},
    {"decode", "--tokenizer", Kind::FileIn, "!--model"},
    {"decode", "--ids", Kind::FileIn},

    {"pretrain", "--corpus", Kind::FileIn},
    {"pretrain", "--out", Kind::DirOut},
    {"pretrain", "--config", Kind::Choice},
    {"pretrain", "--resume", Kind::DirIn, kFreshOnly},
    {"pretrain", "--tokenizer", Kind::Choice},
    {"pretrain", "--vocab", Kind::Int, "--tokenizer bpe"},
    {"pretrain", "--n-layer", Kind::Int},
    {"pretrain", "--n-head", Kind::Int},
    {"pretrain", "--n-embd", Kind::Int},
    {"pretrain", "--block", Kind::Int},
    {"pretrain", "--batch", Kind::Int},
    {"pretrain", "--iters", Kind::Int},
    {"pretrain", "--lr", Kind::Float},
    {"pretrain", "--warmup", Kind::Int},
    {"pretrain", "--min-lr", Kind::Float},
    {"pretrain", "--weight-decay", Kind::Float},
    {"pretrain", "--grad-clip", Kind::Float},
    {"pretrain", "--accum", Kind::Int},
    {"pretrain", "--dropout", Kind::Float},
    {"pretrain", "--eval-every", Kind::Int},
    {"pretrain", "--eval-iters", Kind::Int},
    {"pretrain", "--log-every", Kind::Int},
    {"pretrain", "--seed", Kind::Int},
    {"pretrain", "--threads", Kind::Int},

    {"sample", "--model", Kind::DirIn},
    {"sample", "--adapter", Kind::DirIn},
    {"sample", "--use", Kind::Text, "--adapter a={adapter}"},
    {"sample", "--max-new-tokens", Kind::Int},
    {"sample", "--temperature", Kind::Float},
    {"sample", "--top-k", Kind::Int},
    {"sample", "--top-p", Kind::Float},
    {"sample", "--min-p", Kind::Float},
    {"sample", "--repetition-penalty", Kind::Float},
    {"sample", "--seed", Kind::Int},
    {"sample", "--stop", Kind::Text},
    {"sample", "--context", Kind::Choice},
    {"sample", "--threads", Kind::Int},
    {"sample", "--prompt", Kind::Text},
    {"sample", "--prompt-file", Kind::FileIn, "!--prompt"},
    {"sample", "--json", Kind::Switch},

    {"chat", "--model", Kind::DirIn},
    {"chat", "--adapter", Kind::DirIn},
    {"chat", "--use", Kind::Text, "--adapter a={adapter}"},
    {"chat", "--max-new-tokens", Kind::Int},
    {"chat", "--temperature", Kind::Float},
    {"chat", "--top-k", Kind::Int},
    {"chat", "--top-p", Kind::Float},
    {"chat", "--min-p", Kind::Float},
    {"chat", "--repetition-penalty", Kind::Float},
    {"chat", "--seed", Kind::Int},
    {"chat", "--stop", Kind::Text},
    {"chat", "--context", Kind::Choice},
    {"chat", "--threads", Kind::Int},
    {"chat", "--multiline", Kind::Switch},

    {"finetune", "--model", Kind::DirIn},
    {"finetune", "--data", Kind::FileOrDir},
    {"finetune", "--out", Kind::DerivedOut},
    {"finetune", "--method", Kind::Choice},
    {"finetune", "--init", Kind::Choice, "--method qlora"},
    {"finetune", "--loftq-iters", Kind::Int, "--method qlora --init loftq"},
    {"finetune", "--rank", Kind::Int},
    {"finetune", "--alpha", Kind::Float},
    {"finetune", "--dropout", Kind::Float},
    {"finetune", "--targets", Kind::Choice},
    {"finetune", "--rslora", Kind::Switch},
    {"finetune", "--lr", Kind::Float},
    {"finetune", "--iters", Kind::Int},
    {"finetune", "--batch", Kind::Int},
    {"finetune", "--weight-decay", Kind::Float},
    {"finetune", "--grad-clip", Kind::Float},
    {"finetune", "--seed", Kind::Int},
    {"finetune", "--log-every", Kind::Int},
    {"finetune", "--json", Kind::Switch},
    {"finetune", "--threads", Kind::Int},
    {"eval", "--allow-nonfinite", Kind::Switch},
    {"pretrain", "--allow-nonfinite", Kind::Switch},
    {"sample", "--allow-nonfinite", Kind::Switch},
    {"chat", "--allow-nonfinite", Kind::Switch},
    {"finetune", "--allow-nonfinite", Kind::Switch},
    {"lora merge", "--allow-nonfinite", Kind::Switch},
    {"qa-eval", "--allow-nonfinite", Kind::Switch},
    {"prune", "--allow-nonfinite", Kind::Switch},
    {"lowrank", "--allow-nonfinite", Kind::Switch},
    {"export", "--allow-nonfinite", Kind::Switch},
    {"quantize", "--allow-nonfinite", Kind::Switch},
    {"compare", "--allow-nonfinite", Kind::Switch},
    {"serve", "--allow-nonfinite", Kind::Switch},
    {"finetune", "--save-every", Kind::Int},
    {"finetune", "--resume", Kind::Switch},

    {"lora merge", "--model", Kind::DirIn},
    {"lora merge", "--adapter", Kind::DirIn},
    {"lora merge", "--out", Kind::DerivedOut},

    {"qa-eval", "--model", Kind::DirIn},
    {"qa-eval", "--adapter", Kind::DirIn},
    {"qa-eval", "--data", Kind::FileOrDir},
    {"qa-eval", "--group", Kind::Text},
    {"qa-eval", "--limit", Kind::Int},
    {"qa-eval", "--show", Kind::Int},
    {"qa-eval", "--max-new-tokens", Kind::Int},
    {"qa-eval", "--json", Kind::Switch},
    {"qa-eval", "--threads", Kind::Int},

    {"prune", "--model", Kind::DirIn},
    {"prune", "--method", Kind::Choice},
    {"prune", "--sparsity", Kind::Float},
    {"prune", "--pattern", Kind::Choice},
    {"prune", "--calib", Kind::FileIn, "--method wanda"},
    {"prune", "--block", Kind::Int, "--method wanda --calib {corpus}"},
    {"prune", "--out", Kind::DerivedOut},
    {"prune", "--threads", Kind::Int},

    {"lowrank", "--model", Kind::DirIn},
    {"lowrank", "--rank", Kind::Int},
    {"lowrank", "--out", Kind::DerivedOut},
    {"lowrank", "--threads", Kind::Int},

    {"export", "--model", Kind::DirIn},
    {"export", "--out", Kind::FileOut},
    {"export", "--type", Kind::Choice},

    {"quantize", "--model", Kind::DirIn},
    {"quantize", "--format", Kind::Choice},
    {"quantize", "--gptq-layout", Kind::Choice, "--format gptq4 --calib {corpus}"},
    {"quantize", "--act-order", Kind::Switch, "--format gptq4 --calib {corpus}"},
    {"quantize", "--imatrix", Kind::Switch, "--calib {corpus}"},
    {"quantize", "--calib", Kind::FileIn, "--format gptq4"},
    {"quantize", "--out", Kind::DerivedOut},
    {"quantize", "--threads", Kind::Int},

    {"compare", "--model", Kind::DirIn},
    {"compare", "--text", Kind::FileIn},
    {"compare", "--qa", Kind::FileOrDir},
    {"compare", "--qa-limit", Kind::Int, "--qa {qa}"},
    {"compare", "variants", Kind::DirIn},
    {"compare", "--block", Kind::Int},
    {"compare", "--kl-tokens", Kind::Int},
    {"compare", "--decode-tokens", Kind::Int},
    {"compare", "--json", Kind::Switch},
    {"compare", "--threads", Kind::Int},

    {"serve", "--model", Kind::DirIn},
    {"serve", "--adapter", Kind::DirIn},
    {"serve", "--host", Kind::Text},
    {"serve", "--port", Kind::Int},
    {"serve", "--max-batch", Kind::Int},
    {"serve", "--max-tokens", Kind::Int},
    {"serve", "--max-queue", Kind::Int},
    {"serve", "--prefill-chunk", Kind::Int},
    {"serve", "--max-body-bytes", Kind::Int},
    {"serve", "--max-connections", Kind::Int},
    {"serve", "--grace-seconds", Kind::Float},
    {"serve", "--api-key", Kind::Text},
    {"serve", "--threads", Kind::Int},

    {"sweep", "--corpus", Kind::FileIn},
    {"sweep", "--out", Kind::DirOut},
    {"sweep", "--sizes", Kind::Float},
    {"sweep", "--params-min", Kind::Float, "!--sizes"},
    {"sweep", "--params-max", Kind::Float, "!--sizes"},
    {"sweep", "--points", Kind::Int, "!--sizes"},
    {"sweep", "--tokens", Kind::Float},
    {"sweep", "--tokens-per-param", Kind::Float},
    {"sweep", "--flops", Kind::Float},
    {"sweep", "--isoflop", Kind::Float},
    {"sweep", "--block", Kind::Int},
    {"sweep", "--batch", Kind::Int},
    {"sweep", "--lr-ref", Kind::Float},
    {"sweep", "--max-epochs", Kind::Float},
    {"sweep", "--eval-windows", Kind::Int},
    {"sweep", "--seed", Kind::Int},
    {"sweep", "--only", Kind::Text},
    {"sweep", "--dry-run", Kind::Switch, "!--plan"},
    {"sweep", "--plan", Kind::Switch},
    {"sweep", "--collect", Kind::DirIn, "!--corpus !--plan !--sizes"},
    {"sweep", "--threads", Kind::Int},
};

/// One bad value: `value` replaces the option's value; `missing` leaves the
/// option last on the command line with no value at all.
struct BadValue {
  std::string label;
  std::string value;
  bool missing = false;
};

/// The bad values of a kind. {fixtures}/... are shared inputs; {case}/... are
/// made fresh for each case (and checked unchanged afterwards).
inline std::vector<BadValue> bad_values(Kind kind) {
  const BadValue missing{.label = "missing", .value = "", .missing = true};
  const BadValue empty{.label = "empty", .value = ""};
  const BadValue not_utf8{.label = "non-UTF-8", .value = "\xff\xfe\xc3("};
  switch (kind) {
    case Kind::Int:
      return {missing,        empty,
              not_utf8,       {"negative", "-7"},
              {"NaN", "nan"}, {"huge", "99999999999999999999999"}};
    case Kind::Float:
      return {missing, empty, not_utf8, {"negative", "-7"}, {"NaN", "nan"}, {"huge", "1e999"}};
    case Kind::Text:
      return {missing, empty, not_utf8};
    case Kind::Choice:
      return {missing, empty, not_utf8, {"unknown", "no-such-choice"}};
    case Kind::FileIn:
      return {missing,
              empty,
              not_utf8,
              {"no such file", "{fixtures}/no_such_file"},
              {"a directory", "{fixtures}/empty_dir"},
              {"empty file", "{fixtures}/empty_file"},
              {"binary garbage", "{fixtures}/garbage.bin"}};
    case Kind::DirIn:
      return {missing,
              empty,
              not_utf8,
              {"no such directory", "{fixtures}/no_such_dir"},
              {"a file", "{fixtures}/garbage.bin"},
              {"empty directory", "{fixtures}/empty_dir"},
              {"garbage files", "{fixtures}/garbage_dir"}};
    case Kind::FileOrDir:
      return {missing,
              empty,
              not_utf8,
              {"no such path", "{fixtures}/no_such_file"},
              {"empty file", "{fixtures}/empty_file"},
              {"binary garbage", "{fixtures}/garbage.bin"},
              {"empty directory", "{fixtures}/empty_dir"},
              {"garbage files", "{fixtures}/garbage_dir"}};
    case Kind::FileOut:
      return {missing,
              empty,
              not_utf8,
              {"a directory", "{case}/existing_dir"},
              {"inside a file", "{case}/existing_file/out"}};
    case Kind::DirOut:
      return {missing,
              empty,
              not_utf8,
              {"a file", "{case}/existing_file"},
              {"inside a file", "{case}/existing_file/out"}};
    case Kind::DerivedOut:
      return {missing,
              empty,
              not_utf8,
              {"a file", "{case}/existing_file"},
              {"inside a file", "{case}/existing_file/out"},
              {"the input model", "{model}"}};
    case Kind::Switch:
      return {{"a value", "maybe"}, {"non-UTF-8 value", "\xff\xfe"}};
  }
  return {};
}

}  // namespace cpurich::test
