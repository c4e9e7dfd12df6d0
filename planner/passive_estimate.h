// Passive link estimates: between two step boundaries each rank's links time
// the data they receive in real traffic (transport: Link::TakePassiveSample);
// at the boundary the ranks all-gather those samples and this decides,
// identically on every rank, which pairs are markedly slower than the
// Topology says, and what the Topology becomes.  A drifted link is planned
// around at once, without probing (docs/planner.md, "Keeping the estimates
// fresh").
//
// What is adopted, and why only slowdowns: a passive rate is what the link
// delivered while data was arriving, which is not the same quantity as a
// probe's.  It is low when the sender had data only in bursts shorter than
// the transport's streaming gap (a ring paced by a slower hop), and high on
// long window-limited paths, whose data comes in a burst per round trip
// while the silence between bursts is left out.  Adopting every difference
// would let both errors in; adopting only rates below planned / factor lets
// in only the first, which at worst undersells a link until the next probe,
// and a link that got faster costs nothing until then.  Values only ever go
// down, so passive updates and probes cannot chase each other.
//
// Sharing: several flows of one plan may cross one NIC or one trunk at once
// (a tree's fan-out, a hierarchy's shards), each getting a part of what the
// topology says one flow gets.  A slow rate is taken for sharing, not drift,
// when a resource on its path carried, in total over its sampled flows, at
// least capacity / factor, and the flow got at least its equal part of that
// (capacity / (flows x factor)).  Flows that did not run at the same time
// only make the totals larger: the check errs towards "no drift".
#ifndef MERIDIAN_PLANNER_PASSIVE_ESTIMATE_H_
#define MERIDIAN_PLANNER_PASSIVE_ESTIMATE_H_

#include <utility>
#include <vector>

#include "planner/probe_samples.h"
#include "planner/topology.h"

namespace meridian::planner {

// Below this much data between two step boundaries a link has no passive
// rate: the first read of every streak is left out of the clock (up to a
// socket buffer's worth), small operations (the boundary's own exchange,
// barriers) are latency, not bandwidth, and 16 MiB spans many round trips
// even on a fast long path.
inline constexpr double kPassiveMinBytes = 16.0 * (1 << 20);

// What the receiver of one ordered pair timed: data payload bytes received
// while the link was streaming, and the seconds that took.
struct LinkTraffic {
  double bytes = 0;
  double seconds = 0;
};

struct PassiveConfig {
  // MERIDIAN_REPLAN_DRIFT: a link drifted when its passive rate is below its
  // planned bandwidth / factor.  0 or less (or NaN): nothing ever drifts;
  // between 0 and 1, taken as 1 (a rate is never adopted upwards).
  double factor = 2;
  double min_bytes = kPassiveMinBytes;
};

struct DriftedLink {
  int from = 0;
  int to = 0;
  double bytes = 0;        // carried while streaming
  double passive_Bps = 0;  // bytes / seconds: the pair's bandwidth from now on
  double planned_Bps = 0;  // the pair's bandwidth before
};

struct PassiveUpdate {
  // The input with the drifted rates adopted: pair bandwidths, then trunks
  // (below), then every peer's egress / ingress again (SetAccessLimits).
  // Equal to the input when nothing drifted.
  Topology topology;
  std::vector<DriftedLink> drifted;  // in (from, to) order
  // Ordered region pairs whose trunk was lowered: at least two sampled
  // flows crossed it, all of them drifted, and together they carried less
  // than trunk / factor; the trunk becomes their sum, and no pair across it
  // is planned faster than that.  One slow flow alone may be its own path's
  // fault, so it lowers only its pair.
  std::vector<std::pair<int, int>> lowered_trunks;
  int sampled = 0;  // pairs that carried enough to have a rate
  int shared = 0;   // slow pairs that sharing explains (not adopted)
};

// traffic[to * n + from]: what rank `to` timed on its link from `from` (one
// row per receiver, as the ranks gather it), n = planned.peers.  Entries
// that are not finite, negative, on the diagonal, below min_bytes or
// without time are ignored, as are pairs whose planned bandwidth is not
// positive; a traffic matrix of the wrong size changes nothing.  A pure
// function: the same input gives the same output on every rank.
PassiveUpdate ApplyPassiveRates(const Topology& planned,
                                const std::vector<LinkTraffic>& traffic,
                                const PassiveConfig& config);

// Writes the adopted rates into the samples the topology was built from
// (probe_samples.h), so that the coordinator hands them out to the next
// epochs.  Only pairs within one region: there a sample's rate is the
// topology's bandwidth as it stands, so TopologyFromSamples rebuilds what
// was adopted; across regions it credits a probed rate with the trunk share
// of its round, and a passive rate has no exact form in those terms (those
// pairs keep their probed rates).  Returns the directions written.
int AdoptIntoSamples(const PassiveUpdate& update, std::vector<PairSample>* samples);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_PASSIVE_ESTIMATE_H_
