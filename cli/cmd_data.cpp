// cmd_data.cpp: `cpurich data world --out DIR`, the built-in corpus.
// Writes DIR/corpus.txt (biographies for pretraining) and the Q/A sets
// qa_train.jsonl / qa_test.jsonl / qa_unseen.jsonl (see train/world.h).
#include <chrono>
#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "cli/flag_checks.h"
#include "train/world.h"

namespace cpurich::cli {

namespace {

struct DataWorldArgs {
  std::string out;
  world::WorldOptions options;
};

void run_data_world(const DataWorldArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  const world::World w = world::generate_world(a.options);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  world::write_world(w, a.out);
  std::printf(
      "wrote %s/corpus.txt (%zu bytes, %zu biographies) and Q/A: %zu train, %zu test, %zu unseen, "
      "%zu abstain (generated in %.0f ms)\n",
      a.out.c_str(), w.corpus.size(), w.bios.size(), w.qa_train.size(), w.qa_test.size(),
      w.qa_unseen.size(), w.qa_abstain.size(), ms);
}

}  // namespace

void register_data(CLI::App& app) {
  auto* data = app.add_subcommand("data", "Generate built-in datasets");
  data->require_subcommand(1);
  auto args = std::make_shared<DataWorldArgs>();
  auto* sub = data->add_subcommand(
      "world", "Fictional people: biographies (corpus.txt) and Q/A sets (qa_*.jsonl)");
  sub->add_option("--out", args->out, "Output directory (created if missing)")
      ->required()
      ->check(output_dir());
  sub->add_option("--people", args->options.people, "Number of people (train + test + unseen)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  sub->add_option("--bios-per-person", args->options.bios_per_person,
                  "Biographies per train/test person")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("--seed", args->options.seed, "Random seed")->capture_default_str();
  sub->add_flag("--qa-in-corpus,!--no-qa-in-corpus", args->options.qa_in_corpus,
                "Mix the train Q/A (chat format) into corpus.txt (default on; "
                "--no-qa-in-corpus: biographies only)");
  sub->add_flag("--name-every-sentence,!--pronouns", args->options.name_every_sentence,
                "Full name in every biography sentence (default on; --pronouns: she/he after "
                "the first sentence, the name 1 time in 4)");
  sub->add_option("--abstain-people", args->options.abstain_people,
                  "Extra people absent from the corpus whose Q/A, answered \"I don't know.\", are "
                  "appended to qa_train.jsonl (group \"abstain\")")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  sub->add_option("--zipf", args->options.zipf,
                  "Zipf exponent of biographies per person (0: bios-per-person each; s > 0: the "
                  "r-th person ~ r^-s of them, at least 1, about the same total)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 4.0));
  sub->callback([args] { run_data_world(*args); });
}

}  // namespace cpurich::cli
