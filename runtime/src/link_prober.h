// Measures the links of a freshly formed epoch (planner/probe.h explains
// the rounds) and hands every rank the same Topology: each rank times its
// own pairs, then an all-gather gives all ranks every rank's row.  Pairs
// an earlier epoch measured (handed out by the coordinator) are not probed
// again, only merged (planner/probe_samples.h).
#ifndef MERIDIAN_RUNTIME_SRC_LINK_PROBER_H_
#define MERIDIAN_RUNTIME_SRC_LINK_PROBER_H_

#include <functional>
#include <memory>

#include "absl/status/statusor.h"
#include "collectives/executor.h"
#include "collectives/op_descriptor.h"
#include "planner/cost_model.h"
#include "planner/plan.h"
#include "planner/probe.h"
#include "planner/probe_samples.h"
#include "planner/topology.h"

namespace meridian::runtime {

// Runs one operation of the epoch to completion (blocking, on the progress
// thread) and returns its status.
using RunOperation = std::function<absl::Status(
    const collectives::OpSpec& spec, std::shared_ptr<const planner::Plan> plan,
    const void* input, void* output)>;

struct MeasuredNetwork {
  planner::Topology topology;
  // alpha 0: measured latencies already include the per-message software
  // cost; gamma and mem: the median of every rank's local measurement, so
  // every rank plans with the same numbers.
  planner::CostParams cost;
  // Every pair of the group: the known ones as given (tags compacted), then
  // the ones probed now, whose round tags follow the known ones'.  What
  // rank 0 reports to the coordinator.
  std::vector<planner::PairSample> samples;
  int probed_pairs = 0;  // measured now
  int rounds = 0;        // probing rounds run now
};

// Every rank's `mine` (the same length on every rank), in rank order, on
// every rank: the all-gather by which ranks share what they measured, so
// that all of them decide from the same numbers.
absl::StatusOr<std::vector<double>> AllGatherDoubles(int rank, int world_size,
                                                     const std::vector<double>& mine,
                                                     const RunOperation& run);

// Probes the pairs of `world_size` ranks that `known` lacks (all of them
// when it is empty): the round-robin rounds keep only those pairs, and
// rounds left empty are skipped.  The rows and the compute rates are
// all-gathered even when no pair is left, so every rank ends with the same
// medians.  Every rank must pass the same `known`.  `executor` is the one
// RunOperation drives (step times are read from it).  Errors: those of the
// operations (a lost peer breaks the epoch like any other operation);
// InvalidArgument when `known` holds pairs outside the group or twice.
// connections(peer): TCP connections of the link to `peer` (sizes its bulk,
// planner::PairBulkBytes).
absl::StatusOr<MeasuredNetwork> ProbeLinks(int rank, int world_size,
                                           const planner::ProbeShape& shape,
                                           std::vector<planner::PairSample> known,
                                           const std::function<int(int)>& connections,
                                           collectives::Executor* executor,
                                           const RunOperation& run);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_LINK_PROBER_H_
