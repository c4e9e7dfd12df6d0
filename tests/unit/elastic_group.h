// Helpers for tests of groups whose membership changes: an in-process
// coordinator and ranks (threads of this process) that join it without a
// fixed rank, so members can leave and peers join between epochs.  For a
// fixed group of n ranks, comm_group.h's CommGroup is simpler (the
// coordinator and member config helpers live there).
// MERIDIAN_AUTH_TOKEN must be set first (a ::testing::Environment).
#ifndef MERIDIAN_TESTS_UNIT_ELASTIC_GROUP_H_
#define MERIDIAN_TESTS_UNIT_ELASTIC_GROUP_H_

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "tests/unit/comm_group.h"

namespace meridian::test_util {

// One peer joining a group of `world` (blocks until the group forms).
inline mdnComm_t Join(const std::string& coord, int world, int timeout_ms = 15000) {
  mdnCommConfig_t cfg = MemberConfig(coord.c_str(), world, -1, timeout_ms);
  mdnComm_t comm = nullptr;
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnSuccess) << mdnGetLastError();
  return comm;
}

// n peers joining at once; comms in the order they were started, not by rank.
inline std::vector<mdnComm_t> JoinAll(const std::string& coord, int n, int timeout_ms = 15000) {
  std::vector<mdnComm_t> comms(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { comms[i] = Join(coord, n, timeout_ms); });
  }
  for (auto& t : threads) t.join();
  return comms;
}

inline int Rank(mdnComm_t c) {
  int r = -1;
  mdnCommRank(c, &r);
  return r;
}

}  // namespace meridian::test_util

#endif  // MERIDIAN_TESTS_UNIT_ELASTIC_GROUP_H_
