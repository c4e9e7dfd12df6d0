// CPU (and NUMA node) sets as sorted lists of OS indices, in the list
// syntax of taskset -c, numactl and hwloc: "0-3,8".  One text form for what
// MERIDIAN_PROGRESS_CPUS accepts, what logs print and what meridian-info
// shows, so a set a log names can be pasted back into the variable.
#ifndef MERIDIAN_RUNTIME_SRC_CPU_LIST_H_
#define MERIDIAN_RUNTIME_SRC_CPU_LIST_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace meridian::runtime {

// Sorted, without duplicates.
using CpuList = std::vector<int>;

// Highest index ParseCpuList accepts: far above any real machine, low
// enough that a typo ("0-99999999") cannot make a huge affinity mask.
inline constexpr int kMaxCpuIndex = 65535;

// "0-3,8" → {0,1,2,3,8}.  Items are N or N-M (N <= M), comma separated,
// whitespace around items allowed; order and overlaps do not matter.
// Errors: InvalidArgument saying which item is wrong and why (empty text,
// empty item, not a number, reversed range, index above kMaxCpuIndex).
absl::StatusOr<CpuList> ParseCpuList(absl::string_view text);

// {0,1,2,3,8} → "0-3,8"; consecutive pairs print as a range ("0-1"), as
// hwloc_bitmap_list_asprintf does; empty → "".
std::string CpuListText(const CpuList& cpus);

// Sorted-set helpers.
CpuList Intersect(const CpuList& a, const CpuList& b);
bool IsSubset(const CpuList& sub, const CpuList& of);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_CPU_LIST_H_
