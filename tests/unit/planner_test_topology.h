// Comparing two planner Topologies field by field in tests (every field
// that plans are derived from; names are for display only).
#ifndef MERIDIAN_TESTS_UNIT_PLANNER_TEST_TOPOLOGY_H_
#define MERIDIAN_TESTS_UNIT_PLANNER_TEST_TOPOLOGY_H_

#include "gtest/gtest.h"
#include "planner/topology.h"

namespace meridian::planner::test_topology {

inline void ExpectSameTopology(const Topology& x, const Topology& y) {
  ASSERT_EQ(x.peers, y.peers);
  EXPECT_EQ(x.latency_s, y.latency_s);
  EXPECT_EQ(x.bandwidth_Bps, y.bandwidth_Bps);
  EXPECT_EQ(x.region_of, y.region_of);
  EXPECT_EQ(x.trunk_Bps, y.trunk_Bps);
  EXPECT_EQ(x.egress_Bps, y.egress_Bps);
  EXPECT_EQ(x.ingress_Bps, y.ingress_Bps);
}

}  // namespace meridian::planner::test_topology

#endif  // MERIDIAN_TESTS_UNIT_PLANNER_TEST_TOPOLOGY_H_
