// mem_available.cpp: MemAvailable and the cgroup limit (see mem_available.h).
#include "util/mem_available.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>

namespace cpurich {

namespace {

// The first integer of a one-line file, or -1 ("max" or missing).
int64_t read_number(const char* path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word.empty() || word.find_first_not_of("0123456789") != std::string::npos)
    return -1;
  return std::stoll(word);
}

int64_t meminfo_available() {
  std::ifstream in("/proc/meminfo");
  std::string key, unit;
  int64_t kb = 0;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemAvailable:") return kb * 1024;
  }
  const long pages = ::sysconf(_SC_AVPHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<int64_t>(pages) * page : -1;
}

}  // namespace

int64_t available_memory_bytes() {
  int64_t avail = meminfo_available();
  const int64_t max = read_number("/sys/fs/cgroup/memory.max");
  const int64_t cur = read_number("/sys/fs/cgroup/memory.current");
  if (max > 0 && cur >= 0) {
    const int64_t room = std::max<int64_t>(0, max - cur);
    avail = avail < 0 ? room : std::min(avail, room);
  }
  return avail;
}

}  // namespace cpurich
