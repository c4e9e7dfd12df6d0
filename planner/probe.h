// Link probing: who measures whom in which round, the Plan each round runs,
// and how the timings every rank took become one Topology.
//
// N peers are probed in N-1 rounds (N rounds when N is odd) of disjoint
// pairs, a round-robin tournament, so probing costs O(N) rounds rather than
// O(N^2) pair tests.  The rounds run twice: first ping-pong only (round-trip
// time: the minimum over the pings, taken by the lower rank of the pair),
// with no bulk traffic anywhere; then, after a barrier, each pair plays one
// ping-pong more and both send a bulk message at once, cut in chunks; the receiver times
// the whole transfer, from when the partner started (pinned by the last
// ping-pong, see runtime/src/link_prober.cc) to the last byte.  Pairs of one round that cross
// the same inter-region trunk share it, which is how trunk capacity is
// estimated (see TopologyFromProbes).
#ifndef MERIDIAN_PLANNER_PROBE_H_
#define MERIDIAN_PLANNER_PROBE_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "planner/plan.h"
#include "planner/topology.h"

namespace meridian::planner {

using Round = std::vector<std::pair<int, int>>;  // (lower rank, higher rank)

// Circle-method schedule: every pair of 0..n-1 exactly once, each rank in
// at most one pair per round.  Deterministic.
std::vector<Round> RoundRobinRounds(int n);

struct ProbeShape {
  int pings = 4;                   // ping-pong exchanges per pair
  uint64_t bulk_bytes = 8u << 20;  // per direction, per pair, per connection
  uint64_t max_bulk_bytes = 64u << 20;  // cap per direction, per pair
  int bulk_chunks = 16;            // messages the bulk is cut into (>= 2)
};

// Bulk bytes for a pair whose link runs `connections` TCP connections.  The
// transport opens more connections on paths with a larger bandwidth-delay
// product, where a short bulk would measure TCP's slow start rather than the
// path (8 MiB across a 70 ms, 1 Gbit/s trunk is one round trip's worth);
// both ends of a link know its connection count, so both derive the same
// size.  Capped so that a round stays bounded in time.
uint64_t PairBulkBytes(const ProbeShape& shape, int connections);

// Which steps of a probe plan carry the timings, for this rank's partner
// in the round (partner -1: this rank sits the round out).
struct ProbeSteps {
  int partner = -1;
  bool initiator = false;  // the lower rank: it pings, the partner pongs
  // initiator: send ping k / receive pong k.  responder: receive ping k /
  // send pong k.  Round trip k = (second) - (first) on the initiator; on the
  // responder, receive ping k+1 - send pong k.
  std::vector<int32_t> ping_pong;  // 2 * pings steps, in time order
  std::vector<int32_t> bulk_recvs;  // this rank's bulk receive steps
};

// The latency pass before the bulk rounds: the same pairs, only the
// ping-pong (`pings` exchanges; kOutput holds 1 byte, kInput 1 byte).
// Round trips are taken here, while no pair of the probe is moving bulk
// data: a ping that queues behind another pair's bulk (in a shared NIC,
// switch or emulator) measures that queue, not the path.
Plan BuildPingPlan(int rank, int world_size, const Round& round, int pings,
                   ProbeSteps* steps);

// The plan of one probing round for `rank` (Collective::kTransfer over
// bytes: kInput holds bulk_bytes to send, kOutput bulk_bytes + 1 to receive
// into).  Every rank of the round calls it with the same `round` and shape.
Plan BuildProbePlan(int rank, int world_size, const Round& round,
                    const ProbeShape& shape, ProbeSteps* steps);

// What one rank measured, in seconds and bytes per second, for each peer
// (index = peer rank; -1 where not measured, e.g. itself).
struct ProbeRow {
  std::vector<double> rtt_s;          // round trip to the peer
  std::vector<double> recv_Bps;       // rate from the peer to this rank
};

// Turns every rank's row (rows[r] from rank r, identical on all ranks after
// an all-gather) into the Topology all ranks plan with: latency(i, j) = half
// the smaller of the two round trips measured; bandwidth(i, j) = what j
// measured receiving from i; regions from ClusterRegions; for each ordered
// region pair, the trunk is the largest over the rounds of what the k
// pairs that crossed it together show: k x the slowest one's rate, within
// [the fastest one's rate, the sum of their rates]; and a pair that shared its trunk with k - 1
// others in its round is credited min(k x its rate, trunk) as its own
// bandwidth; each peer's egress / ingress is its fastest pair rate out /
// in (one NIC shared by all its flows).  Missing or non-positive values are
// InvalidArgument.
absl::StatusOr<Topology> TopologyFromProbes(const std::vector<ProbeRow>& rows,
                                            const std::vector<Round>& rounds);

// Each peer's egress / ingress from the pair bandwidths, as
// TopologyFromProbes sets them: its fastest pair rate out / in.  For
// topologies whose pair rates change later (passive_estimate.h).
void SetAccessLimits(Topology* t);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_PROBE_H_
