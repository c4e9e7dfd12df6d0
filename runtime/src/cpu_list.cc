#include "runtime/src/cpu_list.h"

#include <algorithm>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace meridian::runtime {
namespace {

absl::StatusOr<int> ParseIndex(absl::string_view item, absl::string_view part) {
  part = absl::StripAsciiWhitespace(part);
  int v = -1;
  // SimpleAtoi accepts a leading '+' or '-'; a CPU index is digits only.
  if (part.empty() || !std::all_of(part.begin(), part.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(part, &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", item, "' is not a CPU index or range N-M"));
  }
  if (v > kMaxCpuIndex) {
    return absl::InvalidArgumentError(
        absl::StrCat("CPU ", part, " in '", item, "' is above ", kMaxCpuIndex));
  }
  return v;
}

}  // namespace

absl::StatusOr<CpuList> ParseCpuList(absl::string_view text) {
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError("empty CPU list");
  }
  CpuList out;
  for (absl::string_view raw : absl::StrSplit(text, ',')) {
    absl::string_view item = absl::StripAsciiWhitespace(raw);
    if (item.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("empty item in CPU list '", text, "'"));
    }
    std::vector<absl::string_view> ends = absl::StrSplit(item, absl::MaxSplits('-', 1));
    absl::StatusOr<int> lo = ParseIndex(item, ends[0]);
    if (!lo.ok()) return lo.status();
    int hi = *lo;
    if (ends.size() == 2) {
      absl::StatusOr<int> h = ParseIndex(item, ends[1]);
      if (!h.ok()) return h.status();
      hi = *h;
      if (hi < *lo) {
        return absl::InvalidArgumentError(
            absl::StrCat("range '", item, "' runs backwards"));
      }
    }
    for (int c = *lo; c <= hi; ++c) out.push_back(c);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string CpuListText(const CpuList& cpus) {
  std::string out;
  for (size_t i = 0; i < cpus.size();) {
    size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!out.empty()) out += ',';
    absl::StrAppend(&out, cpus[i]);
    if (j > i) absl::StrAppend(&out, "-", cpus[j]);
    i = j + 1;
  }
  return out;
}

CpuList Intersect(const CpuList& a, const CpuList& b) {
  CpuList out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

bool IsSubset(const CpuList& sub, const CpuList& of) {
  return std::includes(of.begin(), of.end(), sub.begin(), sub.end());
}

}  // namespace meridian::runtime
