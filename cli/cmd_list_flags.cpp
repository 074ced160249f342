// cmd_list_flags.cpp: `cpurich list-flags`, a hidden subcommand that prints
// every subcommand's options as JSON lines, read from the CLI11 app itself.
// tests/badinput feeds each listed option bad values; reading the list from
// the program (not a copy in the test) means a new flag cannot be forgotten.
//   {"command": "tokenizer train", "name": "--vocab", "type": "INT",
//    "takes_value": true, "required": false, "positional": false}
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"

namespace cpurich::cli {

namespace {

void list(const CLI::App& app, const std::string& path) {
  for (const CLI::Option* opt : app.get_options()) {
    if (opt == app.get_help_ptr() || opt == app.get_help_all_ptr()) continue;
    const std::string type = opt->get_type_name();
    const nlohmann::json j = {{"command", path},
                              {"name", opt->get_name()},
                              {"type", type.substr(0, type.find(':'))},
                              {"takes_value", opt->get_expected_max() != 0},
                              {"required", opt->get_required()},
                              {"positional", opt->get_positional()}};
    std::printf("%s\n", j.dump().c_str());
  }
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_name() == "list-flags") continue;
    list(*sub, path.empty() ? sub->get_name() : path + " " + sub->get_name());
  }
}

}  // namespace

void register_list_flags(CLI::App& app) {
  // The empty group hides it from --help: it is for tests and tools.
  CLI::App* sub = app.add_subcommand("list-flags", "Every subcommand's options as JSON lines");
  sub->group("");
  sub->callback([&app] { list(app, ""); });
}

}  // namespace cpurich::cli
