// The link matrix between the communicator and the coordinator: the pairs
// a roster hands out become the planner's samples (ranks of the new epoch),
// and what this epoch measured becomes rank 0's report, keyed by the
// members' data addresses (runtime/coordinator/link_store.h keeps it).
#ifndef MERIDIAN_RUNTIME_SRC_LINK_MATRIX_H_
#define MERIDIAN_RUNTIME_SRC_LINK_MATRIX_H_

#include <vector>

#include "planner/cost_model.h"
#include "planner/probe_samples.h"
#include "runtime/coordinator/coordinator.h"
#include "runtime/coordinator/protocol.h"

namespace meridian::runtime {

// The pairs the roster hands out, as samples of its ranks.
std::vector<planner::PairSample> HandedOutSamples(const coordinator::Roster& roster);

// Whether the roster hands out every pair of its group and the compute
// rates: then the topology needs no probing at all.
bool HandsOutEverything(const coordinator::Roster& roster);

// The compute rates the roster hands out (alpha 0, as for measured links).
planner::CostParams HandedOutCost(const coordinator::Roster& roster);

// Rank 0's report of this epoch's links.
coordinator::LinkReportMsg LinkReport(const coordinator::Roster& roster,
                                      const std::vector<planner::PairSample>& samples,
                                      const planner::CostParams& cost);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_LINK_MATRIX_H_
