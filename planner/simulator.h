// Runs the plans of every rank against the cost model, without sockets:
// a discrete-event simulation of collectives/executor's rules over a
// fluid-flow network (flow_network.h).  It answers how long a plan takes
// on a network, and why (the busiest resource), for up to tens of
// thousands of simulated ranks; the symbolic checker (plan_check.h) uses
// the same schedule.
//
// Executor rules modelled (see collectives/executor.cc):
//   - the k-th send to P and the k-th receive from this rank in P's plan are
//     one message (checked up front: same number of messages, same counts);
//   - sends to P are posted strictly in message order, each once its deps
//     completed; receives from P likewise; a receive-reduce also needs one
//     of kStagingSlots slots per rank, held from posting until reduced;
//   - a message flows once both ends posted it: alpha after the later post
//     it is ready, messages of one pair are transmitted in message order
//     (the Link sends a pair's frames from one queue), the send completes
//     when the last byte left and the receive arrives one-way latency later;
//   - one progress thread per rank runs reductions (bytes / gamma) and
//     copies (bytes / mem) one at a time, in the order they became ready.
// Time 0 is when every rank starts the operation.
#ifndef MERIDIAN_PLANNER_SIMULATOR_H_
#define MERIDIAN_PLANNER_SIMULATOR_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "planner/cost_model.h"
#include "planner/flow_network.h"
#include "planner/plan.h"
#include "planner/topology.h"

namespace meridian::planner {

// kStagingSlots (the executor's receive-reduce staging slots per rank) is
// in plan.h, which the plan generators share.

struct SimResult {
  double total_s = 0;                // when the last rank finished
  std::vector<double> rank_finish_s;  // when each rank completed its last step
  uint64_t messages = 0;
  double message_bytes = 0;
  // Bytes per resource kind; kCompute counts bytes reduced or copied.
  std::array<double, kNumResourceKinds> bytes_by_kind{};
  // Up to five resources with the most busy time, busiest first: what the
  // plan waits for.
  std::vector<ResourceUse> busiest;

  // One paragraph for logs and `meridian-info --plan`.
  std::string Summary() const;
};

// "rank R step S (recv_reduce from rank P, message K)": how the simulator
// and the checker name a step in errors.
std::string StepName(const Plan& plan, int32_t step);

// Sees every step as the simulation runs it, in simulated time order; a
// non-OK status stops the simulation and is returned by Simulate.
class StepObserver {
 public:
  virtual ~StepObserver() = default;
  // A send or receive was handed to the link: its buffer is in use from now.
  virtual absl::Status OnPosted(int rank, int32_t step) = 0;
  // The step completed.  For receives, from_step is the matching send in the
  // sender's plan (-1 otherwise).
  virtual absl::Status OnDone(int rank, int32_t step, int32_t from_step) = 0;
};

// plans[r] is rank r's finalized plan; every plan has world_size ==
// plans.size() <= net.size().  Errors: InvalidArgument for malformed plans
// and pairing mismatches, FailedPrecondition for deadlock, each naming the
// rank and step.
absl::StatusOr<SimResult> Simulate(const std::vector<Plan>& plans, const LinkModel& net,
                                   const CostParams& cost, size_t elem_size);
absl::StatusOr<SimResult> Simulate(const std::vector<Plan>& plans, const LinkModel& net,
                                   const CostParams& cost, size_t elem_size,
                                   StepObserver* observer);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_SIMULATOR_H_
