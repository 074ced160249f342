// test_bad_input.cpp: every `cpurich` subcommand x every option x every bad
// value of its kind (bad_input_table.h), run as the real program. Each case
// must exit with code 1 (not 0, not a signal, not a hang), print exactly one
// line on stderr, "cpurich: error: ...", naming the option (or the path it was
// given), print nothing on stdout, and leave nothing behind: its output path does not exist, a file
// or directory it was pointed at is unchanged, its working directory stays empty and the shared
// input fixtures are byte-for-byte what they were.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bad_input_table.h"
#include "run_program.h"
#include "tests/common/temp_dir.h"
#include "util/file_util.h"

using namespace cpurich;
using namespace cpurich::test;
namespace fs = std::filesystem;

namespace {

// CPURICH_BADINPUT_CLI runs the table against another build of the program.
const std::string kCli = std::getenv("CPURICH_BADINPUT_CLI") != nullptr
                             ? std::getenv("CPURICH_BADINPUT_CLI")
                             : std::string(CPURICH_TEST_BINARY_DIR) + "/cli/cpurich";

// The environment of every run: ours, with one thread per program (the cases
// run several programs at once).
std::vector<std::string> child_env() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string s = *e;
    if (!s.starts_with("CPURICH_THREADS=") && !s.starts_with("OPENBLAS_NUM_THREADS="))
      env.push_back(s);
  }
  env.push_back("CPURICH_THREADS=1");
  env.push_back("OPENBLAS_NUM_THREADS=1");
  return env;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> words;
  std::istringstream in(s);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

// Bytes outside printable ASCII as \xNN, for messages.
std::string printable(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f) {
      r += static_cast<char>(c);
    } else if (c == '\n') {
      r += "\\n";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      r += buf;
    }
  }
  return r;
}

bool is_flag(const std::string& w) {
  return w.size() > 2 && w.starts_with("--");
}

// Command-line words as a flag -> value edit: removes `flag` and its value.
void drop(std::vector<std::string>& args, const std::string& flag) {
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i] == flag) {
      const bool has_value = i + 1 < args.size() && !is_flag(args[i + 1]);
      args.erase(args.begin() + static_cast<std::ptrdiff_t>(i),
                 args.begin() + static_cast<std::ptrdiff_t>(i + (has_value ? 2 : 1)));
      return;
    }
}

// Applies a `with` string (bad_input_table.h) to the words of a command line.
void apply_with(std::vector<std::string>& args, const std::string& with) {
  const std::vector<std::string> w = split(with);
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i].starts_with("!")) {
      drop(args, w[i].substr(1));
    } else if (i + 1 < w.size() && !is_flag(w[i + 1]) && !w[i + 1].starts_with("!")) {
      drop(args, w[i]);
      args.push_back(w[i]);
      args.push_back(w[++i]);
    } else {
      drop(args, w[i]);
      args.push_back(w[i]);
    }
  }
}

// The fixtures every case reads, made once per test program.
struct Fixtures {
  TempDir dir{"badinput"};
  std::map<std::string, std::string> paths;  // placeholder name -> path

  std::string make(const std::string& args) const {
    std::vector<std::string> argv = {kCli};
    for (const std::string& w : split(substitute(args, ""))) argv.push_back(w);
    const RunResult r = run_program(argv, child_env(), dir.path().string(), dir.file("make"), 120);
    if (!r.exited || r.exit_code != 0)
      throw std::runtime_error("fixture `cpurich " + args + "` failed: " + r.err);
    return r.out;
  }

  std::string substitute(std::string s, const std::string& case_dir) const {
    for (const auto& [name, path] : paths) s = replace_all(s, "{" + name + "}", path);
    return replace_all(s, "{case}", case_dir);
  }

  // path -> bytes of every fixture file (directories by their listing), to
  // check no case changed an input.
  std::map<std::string, std::string> snapshot() const {
    std::map<std::string, std::string> s;
    for (const auto& e : fs::recursive_directory_iterator(dir.path() / "in"))
      s[e.path().string()] = e.is_regular_file() ? read_file(e.path().string()) : "<dir>";
    return s;
  }

  Fixtures() {
    const fs::path in = dir.path() / "in";
    fs::create_directories(in / "empty_dir");
    fs::create_directories(in / "garbage_dir");
    fs::create_directories(in / "model");
    fs::create_directories(dir.path() / "cases");
    auto put = [&](const std::string& name, const std::string& bytes) {
      write_file_atomic((in / name).string(), bytes);
    };
    std::string corpus;
    const char* people[] = {"Ada", "Bob", "Cyd", "Dee", "Eve", "Fay"};
    const char* cities[] = {"Paris", "Oslo", "Rome", "Lima", "Kyiv", "Bern"};
    std::string qa;
    for (int rep = 0; rep < 8; ++rep)
      for (int i = 0; i < 6; ++i) {
        const std::string p = people[i], c = cities[(i + rep) % 6];
        corpus += p + " lives in " + c + ". " + p + " was born in " + cities[(i + 1) % 6] +
                  ".\n### Human: Where does " + p + " live?\n### Assistant: " + p + " lives in " +
                  c + ".\n";
        if (rep == 0)
          qa += nlohmann::json{{"question", "Where does " + p + " live?"},
                               {"answer", p + " lives in " + c + "."}}
                    .dump() +
                "\n";
      }
    put("corpus.txt", corpus);
    put("qa.jsonl", qa);
    put("ids.txt", "1 2 3 4 5 6 7 8 9 10\n");
    put("empty_file", "");
    std::string garbage;
    uint32_t x = 12345;
    for (int i = 0; i < 4096; ++i) {
      x = x * 1664525u + 1013904223u;
      garbage += static_cast<char>(x >> 24);
    }
    put("garbage.bin", garbage);
    // Every file name some loader looks for in a directory, filled with garbage.
    for (const char* name :
         {"config.json", "model.safetensors", "tokenizer.json", "vocab.json", "merges.txt",
          "adapter_config.json", "adapter_model.safetensors", "qa_train.jsonl", "qa_test.jsonl",
          "qa_unseen.jsonl", "corpus.txt", "train_state.json", "results.jsonl", "optimizer.bin",
          "tokens.bin", "log.jsonl"})
      put(std::string("garbage_dir/") + name, garbage);
    for (const char* name : {"corpus.txt", "qa.jsonl", "ids.txt", "empty_file", "garbage.bin",
                             "empty_dir", "garbage_dir"})
      paths[fs::path(name).stem().string()] = (in / name).string();
    paths["fixtures"] = in.string();
    paths["model"] = (in / "model").string();
    paths["adapter"] = (in / "adapter").string();
    paths["quantized"] = (in / "quantized").string();

    // "wrote PATH: char tokenizer, vocab N, ...": the model's vocabulary is N.
    const std::string wrote = make("tokenizer train --corpus {corpus} --kind char --out " +
                                   paths["model"] + "/tokenizer.json");
    const std::string vocab = split(wrote.substr(wrote.find(", vocab ") + 8))[0];
    make("init --out {model} --n-layer 1 --n-head 2 --n-embd 32 --block 96 --vocab " +
         vocab.substr(0, vocab.find(',')));
    make("finetune --model {model} --data {qa} --out {adapter} --iters 1 --batch 1 --rank 2");
    make("quantize --model {model} --format q8_0 --out {quantized}");
  }
};

const Fixtures& fixtures() {
  static const Fixtures f;
  return f;
}

const Command& command(const std::string& name) {
  for (const Command& c : kCommands)
    if (c.name == name) return c;
  throw std::runtime_error("no command '" + name + "' in kCommands");
}

// One case: the argv it runs and what to check afterwards.
struct Case {
  std::string title;  // printable: command, option, bad value
  std::string option;
  std::string value;  // the bad value after substitution ("" if missing)
  Kind kind;
  std::vector<std::string> argv;
  bool runs_forever = false;
};

// The words of `c`'s command line, with `option`'s context applied.
std::vector<std::string> base_words(const Command& c, const Option& o, bool keep_positional) {
  std::vector<std::string> args = split(c.args);
  apply_with(args, o.with);
  drop(args, o.name);
  if (keep_positional)
    for (const std::string& w : split(c.positional)) args.push_back(w);
  return args;
}

std::vector<Case> make_cases(const std::string& case_root) {
  const Fixtures& f = fixtures();
  std::vector<Case> cases;
  for (const Option& o : kOptions) {
    const Command& c = command(o.command);
    const bool positional = !o.name.starts_with("-");
    for (const BadValue& v : bad_values(o.kind)) {
      Case k{.title = "",
             .option = o.name,
             .value = "",
             .kind = o.kind,
             .argv = {kCli},
             .runs_forever = c.runs_forever};
      const std::string case_dir = case_root + "/" + std::to_string(cases.size());
      for (const std::string& w : split(c.name)) k.argv.push_back(w);
      std::vector<std::string> args = base_words(c, o, !positional);
      k.value = f.substitute(v.value, case_dir);
      if (o.kind == Kind::Switch) {
        args.push_back(o.name + "=" + k.value);
      } else if (v.missing) {
        if (!positional) args.push_back(o.name);  // last, so no value can follow
      } else {
        if (!positional) args.push_back(o.name);
        args.push_back(k.value);
      }
      for (const std::string& w : args)
        k.argv.push_back(f.substitute(replace_all(w, "{out}", case_dir + "/out"), case_dir));
      k.title = "cpurich " + c.name + " " + o.name + " <" + v.label + ">";
      cases.push_back(std::move(k));
    }
  }
  return cases;
}

// What went wrong with one finished case ("" = nothing).
std::string judge(const Case& k, const RunResult& r, const std::string& case_dir) {
  std::string why;
  if (r.timed_out) why += "still running after the time limit; ";
  if (r.signal != 0) why += "killed by signal " + std::to_string(r.signal) + "; ";
  if (r.exited && r.exit_code != 1) why += "exit code " + std::to_string(r.exit_code) + "; ";
  const std::string prefix = "cpurich: error: ";
  if (!r.err.starts_with(prefix) || r.err.find('\n') != r.err.size() - 1)
    why += "stderr is not one line '" + prefix + "...'; ";
  if (!r.out.empty()) why += "printed to stdout: " + printable(r.out.substr(0, 80)) + "; ";
  const bool names_option = r.err.find(k.option) != std::string::npos;
  const bool names_path = !k.value.empty() && r.err.find(k.value) != std::string::npos;
  const bool path_kind = k.kind == Kind::FileIn || k.kind == Kind::DirIn ||
                         k.kind == Kind::FileOrDir || k.kind == Kind::FileOut ||
                         k.kind == Kind::DirOut || k.kind == Kind::DerivedOut;
  if (!names_option && !(path_kind && names_path)) why += "the error names neither ";
  if (!names_option && !(path_kind && names_path))
    why += k.option + (path_kind ? " nor the path" : "") + "; ";
  // Left behind: anything in the case directory but what the case made.
  std::set<std::string> left;
  for (const auto& e : fs::recursive_directory_iterator(case_dir)) {
    const std::string rel = fs::relative(e.path(), case_dir).string();
    if (rel != "cwd" && rel != "existing_dir" && rel != "existing_file") left.insert(rel);
  }
  if (!left.empty()) why += "left behind: " + printable(*left.begin()) + "; ";
  if (read_file(case_dir + "/existing_file") != "keep me\n")
    why += "changed a file it was pointed at; ";
  return why;
}

// Runs every case, `workers` at a time; results in case order.
std::vector<std::string> run_cases(const std::vector<Case>& cases, const std::string& case_root,
                                   int workers) {
  std::vector<std::string> verdicts(cases.size());
  std::atomic<size_t> next{0};
  const std::vector<std::string> env = child_env();
  auto work = [&] {
    for (size_t i = next++; i < cases.size(); i = next++) {
      const std::string case_dir = case_root + "/" + std::to_string(i);
      fs::create_directories(case_dir + "/cwd");
      fs::create_directories(case_dir + "/existing_dir");
      write_file_atomic(case_dir + "/existing_file", std::string("keep me\n"));
      const RunResult r = run_program(cases[i].argv, env, case_dir + "/cwd", case_dir, 30);
      verdicts[i] = judge(cases[i], r, case_dir);
      if (!verdicts[i].empty()) verdicts[i] += "stderr: " + printable(r.err);
      std::error_code ec;
      fs::remove_all(case_dir, ec);
    }
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < workers; ++w) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();
  return verdicts;
}

std::string kind_name(Kind k) {
  switch (k) {
    case Kind::Int:
      return "Int";
    case Kind::Float:
      return "Float";
    case Kind::Switch:
      return "Switch";
    default:
      return "a text kind";
  }
}

}  // namespace

TEST_CASE("every option of every subcommand has a kind in the bad-input table", "[cli][badinput]") {
  REQUIRE(fs::exists(kCli));
  TempDir dir("badinput_list");
  const RunResult r =
      run_program({kCli, "list-flags"}, child_env(), dir.path().string(), dir.file("log"), 60);
  REQUIRE(r.exit_code == 0);
  std::map<std::pair<std::string, std::string>, Kind> table;
  for (const Option& o : kOptions) {
    INFO(o.command << " " << o.name);
    CHECK(table.emplace(std::pair{o.command, o.name}, o.kind).second);  // no duplicate rows
    CHECK_NOTHROW(command(o.command));
  }
  std::set<std::pair<std::string, std::string>> listed;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line);
    const std::pair<std::string, std::string> key{j.at("command"), j.at("name")};
    listed.insert(key);
    INFO("cpurich " << key.first << " " << key.second << " (" << line << ")");
    const auto it = table.find(key);
    CHECK(it != table.end());  // a new option: give it a row in kOptions
    if (it == table.end()) continue;
    // The kind must agree with the C++ type CLI11 converts the value to.
    const std::string type = j.at("type");
    const Kind want = !j.at("takes_value").get<bool>()  ? Kind::Switch
                      : type == "INT" || type == "UINT" ? Kind::Int
                      : type == "FLOAT"                 ? Kind::Float
                                                        : Kind::Text;
    const Kind got = it->second;
    CHECK(kind_name(got) == kind_name(want));
  }
  for (const auto& [key, kind] : table) {
    INFO("kOptions lists cpurich " << key.first << " " << key.second);
    CHECK(listed.count(key) == 1);  // an option that no longer exists
  }
}

TEST_CASE("every subcommand's valid command line succeeds", "[cli][badinput]") {
  // The bad-input cases change one option of these command lines: the failure
  // must come from that option, so the line itself must work.
  REQUIRE(fs::exists(kCli));
  const Fixtures& f = fixtures();
  for (const Command& c : kCommands) {
    if (c.runs_forever) continue;
    const std::string case_dir = (f.dir.path() / "valid" / c.name).string();
    fs::create_directories(case_dir);
    std::vector<std::string> argv = {kCli};
    for (const std::string& w : split(c.name + " " + c.args + " " + c.positional))
      argv.push_back(f.substitute(replace_all(w, "{out}", case_dir + "/out"), case_dir));
    const RunResult r = run_program(argv, child_env(), case_dir, case_dir + "/log", 120);
    INFO("cpurich " << c.name << " " << c.args << " " << c.positional << "\nstderr: " << r.err);
    CHECK(r.exit_code == 0);
  }
}

TEST_CASE("every subcommand x option x bad value: exit 1, one line naming it, nothing left",
          "[cli][badinput]") {
  REQUIRE(fs::exists(kCli));
  const Fixtures& f = fixtures();
  const auto before = f.snapshot();
  const std::string case_root = (f.dir.path() / "cases").string();
  const std::vector<Case> cases = make_cases(case_root);
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> verdicts = run_cases(cases, case_root, 4);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  size_t failed = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    if (verdicts[i].empty()) continue;
    ++failed;
    std::string line;
    for (size_t a = 1; a < cases[i].argv.size(); ++a) {
      line += ' ';
      line.append(printable(cases[i].argv[a]));
    }
    FAIL_CHECK(cases[i].title << ": " << verdicts[i] << "\n  cpurich" << line);
  }
  WARN(cases.size() << " bad-input cases over " << kOptions.size() << " options of "
                    << kCommands.size() << " subcommands in " << seconds << " s; " << failed
                    << " failed");
  CHECK(f.snapshot() == before);  // no case wrote into an input
}
