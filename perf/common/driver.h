// The shared main of the *_perf tools: parse the flags, join the group,
// sweep sizes x types x ops x roots, print the nccl-tests table.
#ifndef MERIDIAN_PERF_COMMON_DRIVER_H_
#define MERIDIAN_PERF_COMMON_DRIVER_H_

#include "perf/common/collective.h"
#include "perf/common/timing.h"

namespace meridian::perf {

// Returns the process exit status: 0 when every check passed, 1 when some
// result was wrong, 2 on a usage or communication error.
int RunBenchmark(Collective coll, LaunchFn launch, int argc, char** argv);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_DRIVER_H_
