// Passive link estimates inside running communicators: at every step
// boundary the ranks exchange what their links received (one all-gather),
// decide alike whether any link drifted, and keep summing correctly
// whatever they decide.  Loopback speeds say nothing about a WAN, so no
// rate or decision is asserted, only that the exchange happened and that
// every rank adopted the same links (planner_passive_estimate_test.cc
// checks the decisions themselves).
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "runtime/src/c_api_internal.h"
#include "runtime/src/communicator.h"
#include "tests/unit/comm_group.h"

namespace {

using meridian::runtime::LinkStats;
using meridian::test_util::CommGroup;

class Env : public ::testing::Environment {
 public:
  void SetUp() override {
    setenv("MERIDIAN_AUTH_TOKEN", "planner-passive-test-token", 1);
    setenv("MERIDIAN_PROBE", "1", 1);
    setenv("MERIDIAN_PROBE_BYTES", "262144", 1);
  }
};
::testing::Environment* const kEnv = ::testing::AddGlobalTestEnvironment(new Env);

LinkStats Stats(CommGroup& g, int r) { return g.comm(r)->impl->link_stats(); }

// `ops` all-reduces of `count` floats, then a step boundary; sums checked
// on every rank.
void Step(CommGroup& g, const std::string& what, int ops = 3, size_t count = 1u << 20) {
  const int n = g.size();
  g.Run([&](int r, mdnComm_t c) {
    std::vector<float> v(count);
    for (int op = 0; op < ops; ++op) {
      for (size_t i = 0; i < count; ++i) v[i] = static_cast<float>(r + 1 + (i + op) % 7);
      ASSERT_EQ(mdnAllReduce(c, v.data(), v.data(), count, mdnFloat32, mdnSum), mdnSuccess)
          << what << " rank " << r << ": " << mdnCommGetLastError(c);
      for (size_t i = 0; i < count; i += 4093) {
        const float want = n * (n + 1) / 2.0f + n * static_cast<float>((i + op) % 7);
        ASSERT_EQ(v[i], want) << what << " rank " << r << " op " << op << " i " << i;
      }
    }
    EXPECT_EQ(mdnCommUpdate(c), mdnSuccess) << what << " rank " << r << ": "
                                            << mdnCommGetLastError(c);
  });
}

void ExpectExchanges(CommGroup& g, int exchanges, const std::string& what) {
  const LinkStats first = Stats(g, 0);
  for (int r = 0; r < g.size(); ++r) {
    const LinkStats s = Stats(g, r);
    EXPECT_EQ(s.epoch, first.epoch) << what << " rank " << r;
    EXPECT_EQ(s.passive_exchanges, exchanges) << what << " rank " << r;
    EXPECT_EQ(s.passive_adopted, first.passive_adopted) << what << " rank " << r
                                                        << ": ranks decided differently";
  }
}

TEST(PlannerPassiveRuntimeTest, EveryStepBoundaryExchangesThePassiveRates) {
  CommGroup g(4);
  for (int step = 0; step < 3; ++step) {
    const std::string what = "step " + std::to_string(step);
    Step(g, what);
    ExpectExchanges(g, step + 1, what);
  }
}

TEST(PlannerPassiveRuntimeTest, AnySlowdownAdoptedKeepsSumsRight) {
  // Factor 1: any operation that ran slower than the first asks the
  // passive rates, and any link below its probed rate (on loopback, most
  // that carried 16 MiB in streaks) is adopted; plans change at boundaries,
  // on every rank alike.  Enough data that links usually have a rate.
  setenv("MERIDIAN_REPLAN_DRIFT", "1", 1);
  CommGroup g(3);
  for (int step = 0; step < 2; ++step) {
    const std::string what = "step " + std::to_string(step);
    Step(g, what, 6, 2u << 20);
    ExpectExchanges(g, step + 1, what);
  }
  std::cout << "links adopted from passive rates: " << Stats(g, 0).passive_adopted << "\n";
  unsetenv("MERIDIAN_REPLAN_DRIFT");
}

TEST(PlannerPassiveRuntimeTest, ReplanDriftZeroTurnsItOff) {
  setenv("MERIDIAN_REPLAN_DRIFT", "0", 1);
  CommGroup g(3);
  Step(g, "step 0");
  ExpectExchanges(g, 0, "MERIDIAN_REPLAN_DRIFT=0");
  unsetenv("MERIDIAN_REPLAN_DRIFT");
}

}  // namespace
