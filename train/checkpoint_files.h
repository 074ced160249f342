// checkpoint_files.h: several files saved as one commit, checksummed, that a
// kill at any instant leaves either wholly old or wholly new.
//
// What it teaches: each file of a checkpoint is written atomically
// (util/file_util.h), but a checkpoint is several files (weights, optimizer
// moments, tokenizer, counters), and a kill between two of them would pair new
// weights with old moments. So a save is a small journal:
//   1. write every new file into DIR/.staging/           (DIR untouched)
//   2. write the manifest DIR/<state>.json: the counters, the CRC-32 of every
//      staged file, and a CRC-32 of the manifest itself    <- the commit point
//   3. rename each staged file into DIR, drop DIR/.staging
// Opening a checkpoint replays the journal: a manifest whose checksum fails is
// refused; a file of DIR whose CRC differs from the manifest's is taken from
// DIR/.staging when that copy matches (a kill during step 3: roll forward),
// and refused by name otherwise ("checkpoint DIR/model.safetensors: checksum
// mismatch"). Leftovers of an uncommitted save (a kill during step 1) are
// removed. A torn or bit-flipped file is never loaded: CRC-32 catches every
// single flipped bit and every burst of up to 32 (util/crc32.h).
//
// Pipeline position: trainer / fine-tuner -> [commit of files] -> run directory.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace cpurich {

/// Starts a save into dir: removes what an interrupted save left (DIR/.staging,
/// temporary files) and returns the empty staging directory to write into.
std::string begin_commit(const std::string& dir);

/// Commits the files written into the staging directory with `state` (a JSON
/// object) as the manifest dir/manifest_name, then moves them into dir.
void finish_commit(const std::string& dir, const std::string& manifest_name, nlohmann::json state);

/// The state of the last committed save in dir, after replaying the journal
/// and checking every file's CRC-32. Throws std::runtime_error naming the
/// file: "checkpoint DIR/FILE: checksum mismatch ...", or "not found".
nlohmann::json open_commit(const std::string& dir, const std::string& manifest_name);

/// Keeps the lines of a JSON-lines log whose "iter" is <= iter, and drops any
/// line that does not parse (the torn last line of a killed append).
void truncate_jsonl(const std::string& path, int64_t iter);

}  // namespace cpurich
