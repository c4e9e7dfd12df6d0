// The communicator's settings, resolved once from (in order) the caller's
// mdnCommConfig_t, MERIDIAN_* variables, torchrun's variables (MASTER_ADDR,
// MASTER_PORT, RANK, WORLD_SIZE) and the defaults.
#ifndef MERIDIAN_RUNTIME_SRC_COMM_OPTIONS_H_
#define MERIDIAN_RUNTIME_SRC_COMM_OPTIONS_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "meridian.h"
#include "planner/probe.h"
#include "runtime/src/progress_placement.h"
#include "runtime/src/socket_ifname.h"
#include "transport/socket.h"
#include "transport/tcp/path_sizing.h"

namespace meridian::runtime {

// How plans are chosen (planner/) and links measured.
struct PlannerOptions {
  enum class Algo { kAuto, kRing, kTree, kHierarchical };
  Algo algo = Algo::kAuto;          // MERIDIAN_ALGO=auto|ring|tree|hier
  bool reorder_ring = true;         // MERIDIAN_RING_ORDER=auto|rank
  bool debug_plan = false;          // MERIDIAN_DEBUG contains "plan"
  // MERIDIAN_PROBE: -1 (auto) probes groups of 3 or more, whose ring order
  // can matter; 0 never (rank-order plans on a uniform model); 1 groups of
  // 2 too.  Both probe only the pairs the coordinator does not hand out
  // (measured in an earlier epoch); kProbeAlways (=always) probes every
  // pair at every epoch, as 1 does for a new group.
  static constexpr int kProbeAlways = 2;
  int probe = -1;
  planner::ProbeShape probe_shape;  // MERIDIAN_PROBE_BYTES per direction
  // MERIDIAN_REPLAN_DRIFT: at a step boundary (mdnCommUpdate), re-measure
  // the links when some operation since the last one took this factor
  // longer (or shorter) than predicted, relative to how far off the first
  // prediction was; 0 never.
  double replan_drift = 2.0;
  // MERIDIAN_TOPOLOGY_FILE: rank 0 saves each measured topology here (for
  // `meridian-info --plan FILE`).
  std::string topology_file;
};

struct CommOptions {
  transport::HostPort coordinator;
  int world_size = 0;
  int rank = -1;  // -1: assigned by the coordinator
  int connections_per_peer = 0;  // 0: chosen from the peers' addresses
  int connect_timeout_ms = 0;
  int op_timeout_ms = 0;
  std::string advertise_host;  // empty: chosen at connect (socket_ifname.h)
  // MERIDIAN_SOCKET_IFNAME: which interfaces may supply the advertised
  // address when advertise_host is empty; nullopt: the default choice.
  std::optional<IfnameFilter> socket_ifname;
  // MERIDIAN_PROGRESS_CPUS: where the progress thread runs.
  ProgressCpus progress_cpus;
  size_t chunk_bytes = 0;
  size_t frame_bytes = 0;
  int socket_buffer_bytes = -1;  // < 0: from the RTT; 0: kernel autotuning
  transport::PathPolicy path;    // what automatic K aims for
  // MERIDIAN_TCP_CONGESTION: set means required on every connection;
  // "system" keeps the kernel's default; unset: cubic on long paths.
  std::string congestion_control = "cubic";
  bool congestion_control_required = false;
  // In-place operations keep a copy of their input to restore on failure.
  bool inplace_backup = true;
  // Shared secret for the coordinator and every peer connection; empty only
  // when MERIDIAN_INSECURE=1 allowed running without one.
  std::string auth_token;
  PlannerOptions planner;
};

// Errors: InvalidArgument naming the field or variable that is missing or
// malformed (e.g. "no coordinator address: set MERIDIAN_COORDINATOR");
// FailedPrecondition when no auth token is configured and MERIDIAN_INSECURE
// is not 1.
absl::StatusOr<CommOptions> ResolveCommOptions(const mdnCommConfig_t* config);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_COMM_OPTIONS_H_
