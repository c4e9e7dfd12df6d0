// Where a communicator's progress thread runs.  The progress thread copies
// every byte between the sockets and the caller's buffers and reduces it;
// on a host with several NUMA nodes, running it on the node the NIC hangs
// off keeps socket buffers, NIC DMA and the reduction on one memory
// controller instead of crossing the socket interconnect for each byte.
//
// MERIDIAN_PROGRESS_CPUS:
//   auto (default)  bind to the CPUs local to the advertised interface's
//                   NIC when the host has more than one NUMA node, within
//                   the CPUs the creating thread may use (a launcher that
//                   pinned this rank keeps it pinned);
//   none            never bind;
//   <list>          bind to exactly these CPUs ("0-3,8"), on any host.
// Binding is a hint: a failure to bind logs a warning and the thread runs
// unbound.
#ifndef MERIDIAN_RUNTIME_SRC_PROGRESS_PLACEMENT_H_
#define MERIDIAN_RUNTIME_SRC_PROGRESS_PLACEMENT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/src/cpu_list.h"
#include "runtime/src/host_topology.h"

namespace meridian::runtime {

struct ProgressCpus {
  enum class Mode { kAuto, kNone, kList };
  Mode mode = Mode::kAuto;
  CpuList cpus;  // kList only
};

// Parses a MERIDIAN_PROGRESS_CPUS value.  Errors: InvalidArgument naming
// the variable, the value and what is wrong with it.
absl::StatusOr<ProgressCpus> ParseProgressCpus(absl::string_view text);

struct Placement {
  bool bind = false;
  CpuList cpus;     // when bind
  std::string why;  // for the Info log line, bound or not
};

// The pure decision.  `nic`: the advertised interface (LocateNic);
// `allowed`: the CPUs the creating thread may run on (empty: unknown, no
// limit).
Placement DecideProgressPlacement(const HostTopology& topo, const ProgressCpus& setting,
                                  const NicLocality& nic, const CpuList& allowed);

// DecideProgressPlacement on this host for a communicator that advertises
// `advertised_host`, from the calling thread's affinity.
Placement PlanProgressPlacement(const ProgressCpus& setting,
                                absl::string_view advertised_host);

// The calling thread's CPU affinity (empty when it cannot be read).
CpuList CurrentThreadCpus();
// Binds the calling thread to `cpus` (pthread_setaffinity_np).  Errors:
// InvalidArgument for an empty list; the errno of the call otherwise (e.g.
// none of the CPUs exists or may be used).
absl::Status BindCurrentThread(const CpuList& cpus);

// Runs on the progress thread before its loop: binds when `p` says so and
// logs the outcome (Info; Warn when binding fails).
void ApplyProgressPlacement(const Placement& p);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_PROGRESS_PLACEMENT_H_
