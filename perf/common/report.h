// The nccl-tests table (header, rows, footer) and its JSON twin.
#ifndef MERIDIAN_PERF_COMMON_REPORT_H_
#define MERIDIAN_PERF_COMMON_REPORT_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "perf/common/args.h"
#include "perf/common/collective.h"

namespace meridian::perf {

struct RunInfo {
  Collective coll = Collective::kAllReduce;
  int nranks = 1;
  int connections_per_peer = 0;
  std::string library_version;  // mdnGetVersionString()
};

struct Measurement {
  double time_us = 0.0;
  double algbw = 0.0;  // GB/s
  double busbw = 0.0;  // GB/s
  int64_t wrong = -1;  // -1: not checked
};

struct Row {
  size_t bytes = 0;
  size_t count = 0;
  const char* type = "";
  const char* redop = "";  // "none" for collectives without one
  int root = -1;           // -1 for collectives without one
  Measurement out_of_place;
  Measurement in_place;
};

// The footer's numbers: wrong elements over all rows (unchecked ones count
// as 0) and the mean busbw over every measurement, as nccl-tests averages.
struct Summary {
  int64_t wrong = 0;
  double avg_busbw = 0.0;
};
Summary Summarize(const std::vector<Row>& rows);

void PrintHeader(FILE* out, const RunInfo& info, const Options& options);
std::string FormatRow(const Row& row);
void PrintFooter(FILE* out, const Summary& summary);

// Writes everything above as one JSON object; false with *error_p set when
// the file cannot be written.
bool WriteJson(const std::string& path, const RunInfo& info,
               const Options& options, const std::vector<Row>& rows,
               std::string* error_p);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_REPORT_H_
