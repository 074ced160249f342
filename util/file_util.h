// file_util.h: reading whole files and writing them atomically.
//
// Why atomic: a training run may be killed at any moment (Ctrl-C, out of
// time, power). If we wrote a checkpoint in place, a kill half-way would leave
// a corrupt file and lose the previous good one. Instead we write a temporary
// file next to the target, flush it to disk, then rename() it over the target:
// on POSIX, rename within one directory is atomic, so readers see either the
// old complete file or the new complete file, never a mix. The directory is
// fsync'ed after the rename, so the new name itself survives a power cut.
// A failed write (full disk, read-only place) removes its temporary file and
// throws an error naming the target, the old file untouched.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace cpurich {

/// Whole file as bytes; throws std::runtime_error("cannot open <path>: <reason>").
std::string read_file(const std::string& path);
/// Writes `bytes` to path via `path.tmp.PID`, fsync, rename, fsync of the directory.
/// Throws std::runtime_error("cannot write <path>: <reason>"), path left as it was.
void write_file_atomic(const std::string& path, std::span<const std::byte> bytes);
void write_file_atomic(const std::string& path, const std::string& text);
/// fsync of a directory: makes renames and new names inside it durable.
void sync_directory(const std::string& dir);

/// Test hook: the nth call to write_file_atomic from now on (1 = the next)
/// fails with errno `error` as the disk would: EROFS / EACCES when creating
/// the temporary file, anything else (ENOSPC) half-way through writing it.
/// nth = 0 disarms it. Lets tests reach the error paths of every writer
/// without a full disk or a read-only mount.
void inject_write_failure(int nth, int error);

}  // namespace cpurich
