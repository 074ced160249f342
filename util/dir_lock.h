// dir_lock.h: one writer per run directory, with a lock a crash cannot leave behind.
//
// What it teaches: two runs writing the same directory would interleave their
// checkpoints and logs into a state neither could resume. A lock file alone
// is not enough: a run killed with SIGKILL never deletes it, and the next run
// would be refused forever. flock() locks belong to the open file, and the
// kernel releases them when the process dies however it dies, so the lock is
// held exactly as long as its holder lives. The file stays (empty but for the
// holder's pid, written for the error message); only the lock on it matters.
//
// Pipeline position: `pretrain` / `finetune` -> [DirLock on OUT/.lock] -> checkpoints.
#pragma once

#include <string>

namespace cpurich {

/// An exclusive flock() on DIR/.lock (directory created if needed), held until
/// destruction. Throws std::runtime_error naming the directory and the pid of
/// the holder when another process holds it.
class DirLock {
 public:
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace cpurich
