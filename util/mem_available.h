// mem_available.h: how much memory this process may still take.
//
// What it teaches: the OOM killer strikes mid-run, with no message, after
// minutes or hours of work. A run that cannot fit is better refused before
// its first allocation. "Free" memory undercounts (the page cache is given
// back on demand), so Linux publishes MemAvailable in /proc/meminfo: free plus
// what can be reclaimed without swapping. Inside a container the cgroup's
// limit (memory.max - memory.current, cgroup v2) may be tighter still; the
// smaller of the two is what a run can count on.
//
// Pipeline position: config -> memory estimate (nn/memory_estimate.h) vs [this] -> run or refuse.
#pragma once

#include <cstdint>

namespace cpurich {

/// Bytes this process can still allocate without swapping: min(MemAvailable,
/// the cgroup's room), or sysconf's available pages when /proc is missing.
int64_t available_memory_bytes();

}  // namespace cpurich
