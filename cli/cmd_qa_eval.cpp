// cmd_qa_eval.cpp: `cpurich qa-eval`: exact-match accuracy of greedy answers
// (infer/qa_eval.h) on Q/A pairs, per group (train / test / unseen on the world).
//
//   cpurich qa-eval --model DIR [--adapter DIR] --data FILE|WORLD_DIR [--group G]... [--limit N]
//   [--show N] [--json]
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "infer/qa_eval.h"
#include "infer/session.h"
#include "train/sft_data.h"

namespace cpurich::cli {

namespace {

struct QaEvalArgs {
  std::string model, adapter;
  std::vector<std::string> data, only;  // only: ask just these groups (empty = all)
  int64_t limit = 0;                    // per group; 0 = all
  int64_t show = 0;
  int64_t max_new_tokens = 32;
  bool json = false;
  int threads = 0;
};

nlohmann::json tally_json(const QaTally& t, bool unanswerable) {
  return {{"n", t.n},
          {"correct", t.correct},
          {"accuracy", t.accuracy()},
          {"abstained", t.abstained},
          {"abstention_rate", t.abstention_rate()},
          {"hallucination_rate", t.hallucination_rate(unanswerable)}};
}

void run_qa_eval(const QaEvalArgs& a) {
  apply_threads(a.threads);
  std::vector<QAPair> pairs;
  for (const std::string& d : a.data) {
    auto part = read_qa_source(d);
    pairs.insert(pairs.end(), part.begin(), part.end());
  }
  InferenceModel m = load_inference_model(a.model, a.adapter);
  std::vector<std::string> order;  // groups in first-seen order
  std::map<std::string, QaTally> groups;
  nlohmann::json shown = nlohmann::json::array();
  for (const QAPair& p : pairs) {
    const std::string g = p.group.empty() ? "all" : p.group;
    if (!a.only.empty() && std::find(a.only.begin(), a.only.end(), g) == a.only.end()) continue;
    if (!groups.count(g)) order.push_back(g);
    QaTally& s = groups[g];
    if (a.limit > 0 && s.n >= a.limit) continue;
    const std::string got =
        greedy_answer(*m.decoder, *m.tokenizer, sft_prompt(p.question), a.max_new_tokens);
    const bool ok = normalize_answer(got) == normalize_answer(p.answer);
    s.add(got, p.answer);
    if (static_cast<int64_t>(shown.size()) < a.show) {
      shown.push_back({{"group", g},
                       {"question", p.question},
                       {"answer", p.answer},
                       {"model", got},
                       {"correct", ok}});
      if (!a.json)
        std::printf("[%s] %s\n  expected: %s\n  model:    %s  %s\n", g.c_str(), p.question.c_str(),
                    p.answer.c_str(), got.c_str(), ok ? "(correct)" : "(wrong)");
    }
  }
  QaTally all;  // every group together
  for (const auto& [g, t] : groups) {
    all.n += t.n;
    all.correct += t.correct;
    all.abstained += t.abstained;
    all.asserted += t.asserted;
    all.made_up += t.made_up;
  }
  if (a.json) {
    nlohmann::json j = {{"n", all.n}, {"correct", all.correct}, {"accuracy", all.accuracy()}};
    for (const std::string& g : order)
      j["groups"][g] = tally_json(groups[g], unanswerable_group(g));
    if (a.show > 0) j["examples"] = shown;
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("%-10s %8s %8s %9s %10s %14s\n", "group", "asked", "correct", "accuracy", "abstained",
              "hallucinated");
  for (const std::string& g : order) {
    const QaTally& t = groups[g];
    std::printf("%-10s %8lld %8lld %8.1f%% %9.1f%% %13.1f%%\n", g.c_str(),
                static_cast<long long>(t.n), static_cast<long long>(t.correct),
                100.0 * t.accuracy(), 100.0 * t.abstention_rate(),
                100.0 * t.hallucination_rate(unanswerable_group(g)));
  }
  std::printf(
      "(hallucinated: for people never read about, any answer but \"I don't know.\"; otherwise "
      "a wrong answer that is not an abstention)\n");
  if (order.size() > 1)
    std::printf("%-10s %8lld %8lld %8.1f%%\n", "all", static_cast<long long>(all.n),
                static_cast<long long>(all.correct), 100.0 * all.accuracy());
}

}  // namespace

void register_qa_eval(CLI::App& app) {
  auto a = std::make_shared<QaEvalArgs>();
  CLI::App* sub = app.add_subcommand(
      "qa-eval",
      "Ask a model every question greedily ('### Human: <q>\\n### Assistant:', up to the end of\n"
      "the line) and report exact-match accuracy after normalisation (trimmed, spaces collapsed,\n"
      "a final '.' dropped, ASCII case folded), per group: a world directory gives train / test /\n"
      "unseen, a JSONL line's \"group\" field or the file name (qa_test.jsonl -> test) otherwise.");
  sub->add_option("--model", a->model, "Model directory")
      ->required()
      ->check(CLI::ExistingDirectory);
  sub->add_option("--adapter", a->adapter, "LoRA adapter directory, merged at load")
      ->check(CLI::ExistingDirectory);
  sub->add_option("--data", a->data, "Q/A file(s) or a world directory (repeatable)")
      ->required()
      ->check(CLI::ExistingPath);
  sub->add_option("--group", a->only, "Ask only this group (repeatable; default all)");
  sub->add_option("--limit", a->limit, "Ask at most N questions per group (0 = all)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--show", a->show, "Print the first N questions with both answers")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  sub->add_option("--max-new-tokens", a->max_new_tokens, "Longest answer in tokens (default 32)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  sub->add_flag("--json", a->json,
                "Print {n, correct, accuracy, groups: {NAME: {n, correct, accuracy}}, examples}");
  add_threads_option(*sub, a->threads);
  sub->callback([a] { run_qa_eval(*a); });
}

}  // namespace cpurich::cli
