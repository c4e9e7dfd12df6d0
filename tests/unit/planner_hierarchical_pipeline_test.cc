// The hierarchical all-reduce as a pipeline, timed in the simulator on the
// scenario it was built for: two regions of three peers, 1 Gbit/s inside a
// region and one shared 300 Mbit/s, 70 ms trunk between them.  Run one
// after the other, the phases take the sum of their times; pipelined, the
// trunk (phase 2) should be busy nearly all along and the total close to
// what the trunk alone needs.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "planner/hierarchical.h"
#include "planner/plan_check.h"
#include "planner/simulator.h"
#include "planner/topology_gen.h"

namespace meridian::planner {
namespace {

using Groups = std::vector<std::vector<int32_t>>;

constexpr uint64_t kBytes = uint64_t{64} << 20;
constexpr uint64_t kChunkBytes = uint64_t{128} << 10;

PlanRequest AllReduce(int n, uint64_t count, uint64_t chunk) {
  PlanRequest req;
  req.collective = Collective::kAllReduce;
  req.world_size = n;
  req.count = count;
  req.chunk_elems = chunk;
  return req;
}

std::vector<Plan> PlansFor(PlanRequest req, const Groups& groups, int pieces) {
  std::vector<Plan> plans(req.world_size);
  HierarchicalOptions options;
  options.pieces = pieces;
  for (int r = 0; r < req.world_size; ++r) {
    req.rank = r;
    plans[r] = BuildHierarchicalPlan(req, groups, options);
  }
  return plans;
}

double SimulatedSeconds(const std::vector<Plan>& plans, const LinkModel& net) {
  const absl::StatusOr<SimResult> sim = Simulate(plans, net, CostParams(), 4);
  EXPECT_TRUE(sim.ok()) << sim.status();
  return sim.ok() ? sim->total_s : 0;
}

TEST(HierarchicalPipelineTest, OverlapsThePhasesOnTheTransatlanticScenario) {
  const absl::StatusOr<Topology> net = ScenarioTopology("transatlantic-6");
  ASSERT_TRUE(net.ok()) << net.status();
  const Groups groups = {{0, 1, 2}, {3, 4, 5}};
  const PlanRequest req = AllReduce(6, kBytes / 4, kChunkBytes / 4);
  const int pieces = HierarchicalPieces(req.count, req.chunk_elems, groups);
  EXPECT_GT(pieces, 1);

  const double sequential_s = SimulatedSeconds(PlansFor(req, groups, 1), *net);
  const double pipelined_s = SimulatedSeconds(PlansFor(req, groups, 0), *net);
  // Every byte of the buffer crosses the trunk once each way (each shard's
  // all-reduce between two groups sends half of it in each of its halves).
  const double trunk_s = static_cast<double>(kBytes) / (300e6 / 8);
  std::printf("transatlantic-6, 64 MiB: phases in sequence %.3f s, pipelined (%d pieces) "
              "%.3f s, trunk bound %.3f s\n",
              sequential_s, pieces, pipelined_s, trunk_s);
  EXPECT_LT(pipelined_s, 0.8 * sequential_s);
  EXPECT_LT(pipelined_s, 1.15 * trunk_s);
  EXPECT_GE(pipelined_s, trunk_s);
}

// The chosen piece count stays free of deadlock and correct (symbolically)
// on the scenario, for several piece counts and both buffer layouts.
TEST(HierarchicalPipelineTest, PiecesSimulateAndCheckOnTheScenario) {
  const absl::StatusOr<Topology> net = ScenarioTopology("transatlantic-6");
  ASSERT_TRUE(net.ok()) << net.status();
  for (const Groups& groups : {Groups{{0, 1, 2}, {3, 4, 5}}, Groups{{0, 1}, {3, 4, 5, 2}}}) {
    for (int pieces : {2, 5, 16}) {
      PlanRequest req = AllReduce(6, (uint64_t{4} << 20) / 4 + 7, 4096);
      req.in_place = pieces % 2 == 1;
      req.average = pieces == 16;
      const std::vector<Plan> plans = PlansFor(req, groups, pieces);
      const absl::StatusOr<SimResult> sim = Simulate(plans, *net, CostParams(), 4);
      EXPECT_TRUE(sim.ok()) << "pieces " << pieces << ": " << sim.status();
      const absl::Status st = CheckPlansSymbolically(plans, req);
      EXPECT_TRUE(st.ok()) << "pieces " << pieces << ": " << st;
    }
  }
}

}  // namespace
}  // namespace meridian::planner
