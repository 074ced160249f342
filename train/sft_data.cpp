// sft_data.cpp: reading Q/A pairs and turning them into masked batches (see sft_data.h).
#include "train/sft_data.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "util/file_util.h"

namespace cpurich {

namespace {

constexpr std::string_view kHuman = "### Human:";
constexpr std::string_view kAssistant = "### Assistant:";

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

int64_t line_of(std::string_view text, size_t offset) {
  return 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n');
}

std::string default_group(const std::filesystem::path& p) {
  std::string stem = p.stem().string();
  if (stem.rfind("qa_", 0) == 0) stem = stem.substr(3);
  return stem;
}

// A string field of a JSONL object, or nullptr when absent / not a string.
const nlohmann::json* string_field(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? &*it : nullptr;
}

}  // namespace

// Built by appending: GCC 12's -Wrestrict misfires on `"x" + std::string(...)`.
std::string sft_prompt(std::string_view question) {
  std::string s(kHuman);
  s.append(" ").append(question).append("\n").append(kAssistant);
  return s;
}

std::string sft_completion(std::string_view answer) {
  std::string s(" ");
  s.append(answer).append("\n");
  return s;
}

std::vector<QAPair> parse_qa_jsonl(std::string_view text, const std::string& what,
                                   const std::string& group) {
  std::vector<QAPair> out;
  size_t start = 0;
  for (int64_t line = 1; start < text.size(); ++line) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view raw = text.substr(start, end - start);
    start = end + 1;
    if (trim(raw).empty()) continue;
    const std::string where = what + ":" + std::to_string(line);
    const nlohmann::json j = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) throw std::runtime_error(where + ": not a JSON object");
    const nlohmann::json* q = string_field(j, "question");
    const nlohmann::json* a = string_field(j, "answer");
    if (!q && !a) {
      q = string_field(j, "prompt");
      a = string_field(j, "completion");
    }
    if (!q || !a)
      throw std::runtime_error(where +
                               ": needs string fields \"question\" and \"answer\" (or "
                               "\"prompt\" and \"completion\")");
    QAPair p{.question = trim(q->get<std::string>()),
             .answer = trim(a->get<std::string>()),
             .group = group,
             .where = where};
    if (const nlohmann::json* g = string_field(j, "group")) p.group = g->get<std::string>();
    if (p.question.empty() || p.answer.empty())
      throw std::runtime_error(where + ": empty question or answer");
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<QAPair> parse_qa_chat(std::string_view text, const std::string& what,
                                  const std::string& group) {
  std::vector<QAPair> out;
  size_t pos = text.find(kHuman);
  if (pos != std::string_view::npos && !trim(text.substr(0, pos)).empty())
    throw std::runtime_error(what + ":1: text before the first \"### Human:\"");
  while (pos != std::string_view::npos) {
    const std::string where = what + ":" + std::to_string(line_of(text, pos));
    const size_t q0 = pos + kHuman.size();
    const size_t next = text.find(kHuman, q0);
    const std::string_view turn =
        text.substr(q0, (next == std::string_view::npos ? text.size() : next) - q0);
    const size_t a = turn.find(kAssistant);
    if (a == std::string_view::npos)
      throw std::runtime_error(where + ": \"### Human:\" without a following \"### Assistant:\"");
    QAPair p{.question = trim(turn.substr(0, a)),
             .answer = trim(turn.substr(a + kAssistant.size())),
             .group = group,
             .where = where};
    if (p.question.empty() || p.answer.empty())
      throw std::runtime_error(where + ": empty question or answer");
    out.push_back(std::move(p));
    pos = next;
  }
  return out;
}

std::vector<QAPair> read_qa_source(const std::string& path) {
  namespace fs = std::filesystem;
  std::vector<fs::path> files;
  if (fs::is_directory(path)) {
    for (const char* name : {"qa_train.jsonl", "qa_test.jsonl", "qa_unseen.jsonl"})
      if (fs::exists(fs::path(path) / name)) files.push_back(fs::path(path) / name);
    if (files.empty())
      throw std::runtime_error(path + ": a directory without qa_train/qa_test/qa_unseen.jsonl");
  } else {
    if (!fs::exists(path)) throw std::runtime_error("Q/A file " + path + " does not exist");
    files.push_back(path);
  }
  std::vector<QAPair> out;
  for (const fs::path& f : files) {
    const std::string text = read_file(f.string());
    const std::string ext = f.extension().string();
    auto part = (ext == ".jsonl" || ext == ".json")
                    ? parse_qa_jsonl(text, f.string(), default_group(f))
                    : parse_qa_chat(text, f.string(), default_group(f));
    out.insert(out.end(), std::make_move_iterator(part.begin()),
               std::make_move_iterator(part.end()));
  }
  if (out.empty()) throw std::runtime_error(path + ": no question/answer pairs");
  return out;
}

SftData build_sft_data(std::span<const QAPair> pairs, const Tokenizer& tokenizer,
                       int64_t block_size) {
  if (block_size < 1) throw std::invalid_argument("build_sft_data: block size must be >= 1");
  SftData data;
  data.block_size = block_size;
  data.stats.pairs = static_cast<int64_t>(pairs.size());
  const auto limit = static_cast<size_t>(block_size + 1);  // T inputs + the last target
  for (const QAPair& p : pairs) {
    SftExample ex;
    try {
      ex.ids = tokenizer.encode(sft_prompt(p.question));
      ex.n_prompt = static_cast<int64_t>(ex.ids.size());
      const auto answer = tokenizer.encode(sft_completion(p.answer));
      ex.ids.insert(ex.ids.end(), answer.begin(), answer.end());
    } catch (const std::exception& e) {
      throw std::runtime_error(p.where + ": " + e.what());
    }
    data.stats.max_tokens = std::max(data.stats.max_tokens, static_cast<int64_t>(ex.ids.size()));
    if (ex.ids.size() > limit) {
      ex.ids.resize(limit);
      ++data.stats.truncated;
      // Targets are ids[1 .. T]; an answer token is graded iff its index >= n_prompt.
      if (ex.n_prompt >= static_cast<int64_t>(limit)) {
        ++data.stats.dropped;
        continue;
      }
    }
    data.stats.answer_tokens += static_cast<int64_t>(ex.ids.size()) - ex.n_prompt;
    data.examples.push_back(std::move(ex));
  }
  if (data.examples.empty())
    throw std::runtime_error("no fine-tuning example fits the block of " +
                             std::to_string(block_size) + " tokens (" +
                             std::to_string(data.stats.dropped) + " of " +
                             std::to_string(data.stats.pairs) + " lost every answer token)");
  return data;
}

Batch sft_batch(const SftData& data, std::span<const int64_t> rows) {
  Batch b;
  b.B = static_cast<int64_t>(rows.size());
  for (int64_t r : rows)
    b.T = std::max(b.T,
                   static_cast<int64_t>(data.examples.at(static_cast<size_t>(r)).ids.size()) - 1);
  b.inputs.assign(static_cast<size_t>(b.B * b.T), 0);
  b.targets.assign(static_cast<size_t>(b.B * b.T), -1);
  for (int64_t i = 0; i < b.B; ++i) {
    const SftExample& ex = data.examples[static_cast<size_t>(rows[static_cast<size_t>(i)])];
    const auto n = static_cast<int64_t>(ex.ids.size());
    for (int64_t t = 0; t + 1 < n; ++t) {
      b.inputs[static_cast<size_t>(i * b.T + t)] = ex.ids[static_cast<size_t>(t)];
      if (t + 1 >= ex.n_prompt)
        b.targets[static_cast<size_t>(i * b.T + t)] = ex.ids[static_cast<size_t>(t + 1)];
    }
  }
  return b;
}

SftSampler::SftSampler(int64_t n, uint64_t seed) : rng_(seed) {
  if (n < 1) throw std::invalid_argument("SftSampler: need at least one example");
  order_.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order_[static_cast<size_t>(i)] = i;
  shuffle();
}

void SftSampler::shuffle() {
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng_.below(i)]);
}

std::vector<int64_t> SftSampler::next(int64_t count) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t k = 0; k < count; ++k) {
    if (pos_ == static_cast<int64_t>(order_.size())) {
      pos_ = 0;
      ++epoch_;
      shuffle();
    }
    out.push_back(order_[static_cast<size_t>(pos_++)]);
  }
  return out;
}

}  // namespace cpurich
