// strict_values.cpp: the checks every flag value passes before any subcommand
// sees it, whatever the subcommand (see add_strict_value_checks in commands.h).
//
// Why: CLI11 converts leniently. An empty value becomes 0 (`--iters ""` is
// --iters 0), "-5" for an unsigned flag wraps to 2^64 - 5, an integer too big
// for int64 saturates to INT64_MAX, and "nan", "inf" or "1e999" are accepted
// as doubles (and a NaN passes every CLI::Range, since NaN < lo and NaN > hi
// are both false). A learner's typo should instead stop the program with one
// line naming the flag. So each value must be:
//   - valid UTF-8 (the message never echoes the raw bytes),
//   - not empty,
//   - for an integer flag: decimal digits with an optional '-' (none for an
//     unsigned flag) that fit in 64 bits,
//   - for a floating-point flag: a decimal number that is finite.
// Ranges (>= 1, in [0, 1), ...) depend on the flag and stay where each
// subcommand declares its options.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "cli/commands.h"
#include "tokenizer/utf8.h"

namespace cpurich::cli {

namespace {

// The value's C++ kind, from the type name CLI11 shows in --help ("INT",
// "UINT", "FLOAT", "TEXT", ...; validators append ":..." after it).
std::string base_type(const CLI::Option& opt) {
  const std::string t = opt.get_type_name();
  return t.substr(0, t.find(':'));
}

template <typename T>
bool parses_fully(std::string_view s, T& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

// "" if `value` is acceptable for an option of type `type`, else why not.
std::string check_value(const std::string& type, const std::string& value) {
  if (!utf8::is_valid(value)) return "value is not valid UTF-8";
  if (value.empty()) return "empty value";
  if (type == "INT") {
    int64_t v = 0;
    if (!parses_fully(value, v)) return "'" + value + "' is not an integer in 64 bits";
  } else if (type == "UINT") {
    uint64_t v = 0;
    if (value[0] == '-' || !parses_fully(value, v))
      return "'" + value + "' is not a non-negative integer in 64 bits";
  } else if (type == "FLOAT") {
    double v = 0;
    if (!parses_fully(value, v) || !std::isfinite(v))
      return "'" + value + "' is not a finite number";
  }
  return "";
}

void add_checks(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (opt->get_expected_max() == 0) continue;  // a flag: no value to check
    const std::string type = base_type(*opt);
    // transform() puts the check first, before the subcommand's own ranges,
    // so those never see a malformed value.
    opt->transform(CLI::Validator([type](std::string& v) { return check_value(type, v); }, ""));
  }
  for (CLI::App* sub : app.get_subcommands({})) add_checks(*sub);
}

}  // namespace

void add_strict_value_checks(CLI::App& app) {
  add_checks(app);
}

}  // namespace cpurich::cli
