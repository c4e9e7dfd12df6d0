#include "runtime/src/link_matrix.h"

#include <algorithm>
#include <cstdint>
#include <utility>

namespace meridian::runtime {

std::vector<planner::PairSample> HandedOutSamples(const coordinator::Roster& roster) {
  std::vector<planner::PairSample> out;
  out.reserve(roster.links.pairs.size());
  for (const coordinator::LinkPair& p : roster.links.pairs) {
    planner::PairSample s;
    s.a = p.a;
    s.b = p.b;
    s.rtt_s = p.rtt_s;
    s.a_to_b_Bps = p.a_to_b_Bps;
    s.b_to_a_Bps = p.b_to_a_Bps;
    s.round = p.round;
    out.push_back(s);
  }
  return out;
}

bool HandsOutEverything(const coordinator::Roster& roster) {
  // The decoder admits each pair of ranks at most once, so a full count
  // is every pair.
  const uint64_t n = static_cast<uint64_t>(std::max(roster.world_size, 0));
  return roster.links.pairs.size() == n * (n - 1) / 2 && roster.links.gamma_Bps > 0 &&
         roster.links.mem_Bps > 0;
}

planner::CostParams HandedOutCost(const coordinator::Roster& roster) {
  planner::CostParams cost;
  cost.alpha_s = 0;
  cost.gamma_Bps = roster.links.gamma_Bps;
  cost.mem_Bps = roster.links.mem_Bps;
  if (roster.links.incast_penalty >= 0) cost.incast_penalty = roster.links.incast_penalty;
  return cost;
}

coordinator::LinkReportMsg LinkReport(const coordinator::Roster& roster,
                                      const std::vector<planner::PairSample>& samples,
                                      const planner::CostParams& cost) {
  coordinator::LinkReportMsg report;
  report.epoch = roster.epoch;
  report.members = roster.peers;
  report.links.gamma_Bps = cost.gamma_Bps;
  report.links.mem_Bps = cost.mem_Bps;
  report.links.incast_penalty = cost.incast_penalty;
  for (const planner::PairSample& s : samples) {
    coordinator::LinkPair p;
    p.a = s.a;
    p.b = s.b;
    p.rtt_s = s.rtt_s;
    p.a_to_b_Bps = s.a_to_b_Bps;
    p.b_to_a_Bps = s.b_to_a_Bps;
    p.round = s.round;
    report.links.pairs.push_back(p);
  }
  // The wire wants increasing (a, b).
  std::sort(report.links.pairs.begin(), report.links.pairs.end(),
            [](const coordinator::LinkPair& x, const coordinator::LinkPair& y) {
              return std::make_pair(x.a, x.b) < std::make_pair(y.a, y.b);
            });
  return report;
}

}  // namespace meridian::runtime
