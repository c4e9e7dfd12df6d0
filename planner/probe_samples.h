// Link measurements that outlive the epoch they were taken in.  Rank 0
// reports an epoch's pairs to the coordinator, which hands the known ones
// out with the next epoch's roster (runtime/coordinator/link_store.h); the
// ranks then rebuild the Topology from them without probing, or probe only
// the pairs nobody has measured yet (a joiner's) and merge.
//
// A pair is kept as what was measured (round trip, rate each way, which
// pairs ran at once), not as the Topology's derived numbers: regions,
// trunks and access limits depend on the whole group, so they are derived
// again, by TopologyFromProbes, for whatever group the pairs end up in.
#ifndef MERIDIAN_PLANNER_PROBE_SAMPLES_H_
#define MERIDIAN_PLANNER_PROBE_SAMPLES_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "planner/probe.h"
#include "planner/topology.h"

namespace meridian::planner {

// One measured pair of ranks a < b of the epoch at hand.
struct PairSample {
  int a = 0;
  int b = 0;
  double rtt_s = 0;       // the smaller of the two ends' round trips
  double a_to_b_Bps = 0;  // what b measured receiving from a
  double b_to_a_Bps = 0;  // what a measured receiving from b
  // Pairs with the same tag were measured in one round, at the same time:
  // TopologyFromProbes estimates the trunks they shared from them.
  uint32_t round = 0;
};

// The samples of every pair of `rounds` from the gathered rows (rows[r]
// from rank r); the pairs of rounds[k] get the tag first_tag + k.
// InvalidArgument where a pair lacks a positive, finite round trip or rate.
absl::StatusOr<std::vector<PairSample>> SamplesFromProbes(
    const std::vector<ProbeRow>& rows, const std::vector<Round>& rounds,
    uint32_t first_tag);

// The Topology of n ranks from samples that cover each pair exactly once:
// the rows and rounds (pairs grouped by tag) that TopologyFromProbes takes,
// rebuilt.  For samples from SamplesFromProbes(rows, rounds, t) this is
// TopologyFromProbes(rows, rounds).  InvalidArgument for a pair that is
// outside 0..n-1, not ordered, given twice, missing or not positive.
absl::StatusOr<Topology> TopologyFromSamples(
    int n, const std::vector<PairSample>& samples);

// `rounds` without the pairs that `known` covers; rounds left empty are
// dropped (a joiner's pairs alone: about one pair per round).
std::vector<Round> RoundsWithout(const std::vector<Round>& rounds,
                                 const std::vector<PairSample>& known);

// Renumbers the tags to 0..k-1 in increasing order of value (pairs that
// shared a tag still share one) and returns k: the first tag that new
// rounds can take without merging into old ones.
uint32_t CompactRoundTags(std::vector<PairSample>* samples);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_PROBE_SAMPLES_H_
