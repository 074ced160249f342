// flag_checks.h: CLI11 checks the subcommands attach to their options, so a
// bad value is refused while parsing, before anything is read or written,
// with one line that names the flag: "cpurich: error: --out: ...". And the
// reading of a text file a flag names, refusing an empty or non-UTF-8 file
// by the flag and the path. (Checks every option gets, whatever its
// subcommand, are in strict_values.cpp.)
#pragma once

#include <CLI/CLI.hpp>
#include <exception>
#include <string>

namespace cpurich::cli {

/// Accepts a value when `parse(value)` does not throw; otherwise what it
/// throws is the message. Lets a library's own parser (of a format name, a
/// method, a pattern) reject a value at parse time, under the flag's name.
template <typename Parse>
CLI::Validator parsed_by(Parse parse, const std::string& description = "") {
  return CLI::Validator(
      [parse](std::string& value) {
        try {
          parse(value);
        } catch (const std::exception& e) {
          return std::string(e.what());
        }
        return std::string();
      },
      description);
}

/// An --adapter value, NAME=DIR or DIR: the directory must exist.
CLI::Validator adapter_dir();

/// A file the command writes: not an existing directory, and no part of the
/// path before it an existing file (so writing cannot fail half-way for that).
CLI::Validator output_file();

/// A directory the command writes (creating it if needed): not an existing
/// file, and no part of the path before it an existing file.
CLI::Validator output_dir();

/// The text of the input file `path` that `flag` names (a corpus, a prompt,
/// token ids): throws, naming both, if the file is empty or not UTF-8, so the
/// error is about the file rather than what a tokenizer or trainer makes of it.
std::string read_text_input(const std::string& flag, const std::string& path);

}  // namespace cpurich::cli
