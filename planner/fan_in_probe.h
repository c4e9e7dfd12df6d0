// The incast calibration (cost_model.h, "incast"): several peers send to
// one receiver at once and the receiver times what arrives in total.
//
// One fan-in is enough: the model has one incast_penalty for the group.
// The receiver and its senders are chosen from the probed Topology so that,
// alone, each sender could fill the receiver's ingress (rate within
// kFanInRateShare of it); then any shortfall of k flows together is the
// receiver's, not the senders' or a trunk's.  Every rank derives the same
// choice from the same Topology.
#ifndef MERIDIAN_PLANNER_FAN_IN_PROBE_H_
#define MERIDIAN_PLANNER_FAN_IN_PROBE_H_

#include <cstdint>
#include <vector>

#include "planner/plan.h"
#include "planner/topology.h"

namespace meridian::planner {

inline constexpr double kFanInRateShare = 0.8;
inline constexpr int kMaxFanInSenders = 4;

struct FanIn {
  int receiver = -1;         // -1: no receiver has two suitable senders
  std::vector<int> senders;  // ascending ranks, 2..kMaxFanInSenders of them
  bool valid() const { return receiver >= 0 && senders.size() >= 2; }
};

// The lowest-ranked receiver with at least two senders whose rate to it is
// >= kFanInRateShare x its ingress; the fastest such senders (ties: lower
// rank), at most kMaxFanInSenders.
FanIn ChooseFanIn(const Topology& t);

// Which steps of the fan-in plan time it.
struct FanInSteps {
  bool receiver = false;
  std::vector<int32_t> go_sends;    // receiver: the "go" to each sender
  std::vector<int32_t> bulk_recvs;  // receiver: every bulk chunk
};

// Collective::kTransfer over bytes.  The receiver sends each sender a
// one-byte "go" (kInput offset 0) and receives bytes[i] from senders[i]
// into kOutput at offsets one after another (so kOutput needs the sum);
// a sender, once it has the go (into kOutput offset 0), sends bytes[i] of
// kInput in `chunks` messages.  Ranks outside the fan-in get an empty plan.
Plan BuildFanInPlan(int rank, int world_size, const FanIn& fan_in,
                    const std::vector<uint64_t>& bytes, int chunks,
                    FanInSteps* steps);

// The incast penalty p of cost_model.h from one fan-in of k flows that
// delivered `aggregate_Bps` in total to a receiver whose single flows reach
// `ingress_Bps`:  ingress / (1 + p (k - 1)) = aggregate, so
// p = (ingress / aggregate - 1) / (k - 1), within [0, 1].  Returns -1 when
// the inputs say nothing (k < 2, non-positive or non-finite rates).
double IncastPenaltyFromFanIn(double ingress_Bps, double aggregate_Bps, int k);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_FAN_IN_PROBE_H_
