// file_util.h: reading whole files and writing them atomically.
//
// Why atomic: a training run may be killed at any moment (Ctrl-C, out of
// time, power). If we wrote a checkpoint in place, a kill half-way would leave
// a corrupt file and lose the previous good one. Instead we write a temporary
// file next to the target, flush it to disk, then rename() it over the target:
// on POSIX, rename within one directory is atomic, so readers see either the
// old complete file or the new complete file, never a mix.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace cpurich {

/// Whole file as bytes; throws std::runtime_error("cannot open <path>: <reason>").
std::string read_file(const std::string& path);
/// Writes `bytes` to path via `path.tmp.PID`, fsync, then rename.
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);
void write_file_atomic(const std::string& path, const std::string& text);

}  // namespace cpurich
