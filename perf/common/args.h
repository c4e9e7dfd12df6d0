// Command line of the *_perf tools: the flags of nccl-tests, plus --json.
#ifndef MERIDIAN_PERF_COMMON_ARGS_H_
#define MERIDIAN_PERF_COMMON_ARGS_H_

#include <cstddef>
#include <cstdio>
#include <string>
#include <vector>

#include "meridian.h"

namespace meridian::perf {

struct Options {
  size_t min_bytes = 32u << 20;  // -b
  size_t max_bytes = 32u << 20;  // -e
  size_t step_bytes = 1u << 20;  // -i, used when step_factor <= 1
  size_t step_factor = 1;        // -f
  int iters = 20;                // -n
  int warmup_iters = 5;          // -w
  bool check = true;             // -c
  std::vector<mdnDataType_t> types{mdnFloat32};  // -d
  std::vector<mdnRedOp_t> ops{mdnSum};           // -o
  int root = 0;           // -r; -1 ("all") runs every root
  bool blocking = false;  // -z: wait for each operation
  std::string json_path;  // --json
};

enum class ParseOutcome { kRun, kHelp, kError };

// "8", "64K", "4M", "1G" (powers of 1024, either case, an optional trailing
// "B").  False for anything else, including overflow.
bool ParseSize(const std::string& text, size_t* bytes_p);

// Parses argv into *options_p (starting from the defaults above).  On
// kError, *error_p says which argument is wrong.
ParseOutcome ParseArgs(int argc, const char* const* argv, Options* options_p,
                       std::string* error_p);

// The sizes to run, as nccl-tests walks them: min, then times step_factor
// (or plus step_bytes), while not above max.
std::vector<size_t> SizeSweep(const Options& options);

void PrintUsage(FILE* out, const char* program);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_ARGS_H_
