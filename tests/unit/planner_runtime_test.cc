// The planner inside running communicators: every forced algorithm gives
// the right sums on a probed group, and re-measuring links on drift at a
// step boundary keeps every rank in step (the decision is collective).
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/include/meridian.h"
#include "tests/unit/comm_group.h"

namespace {

class Env : public ::testing::Environment {
 public:
  void SetUp() override {
    setenv("MERIDIAN_AUTH_TOKEN", "planner-runtime-test-token", 1);
    setenv("MERIDIAN_PROBE", "1", 1);
    setenv("MERIDIAN_PROBE_BYTES", "262144", 1);
  }
};
::testing::Environment* const kEnv = ::testing::AddGlobalTestEnvironment(new Env);

using meridian::test_util::CommGroup;

// Sums of rank-dependent values in several sizes, checked on every rank.
void ExpectSums(CommGroup& g, const std::string& what) {
  const int n = g.size();
  g.Run([&](int r, mdnComm_t c) {
    for (size_t count : {size_t{1}, size_t{1000}, size_t{300000}}) {
      std::vector<float> v(count);
      for (size_t i = 0; i < count; ++i) v[i] = static_cast<float>(r + 1 + i % 7);
      ASSERT_EQ(mdnAllReduce(c, v.data(), v.data(), count, mdnFloat32, mdnSum), mdnSuccess)
          << what << " rank " << r << ": " << mdnCommGetLastError(c);
      for (size_t i = 0; i < count; i += 997) {
        const float want = n * (n + 1) / 2.0f + n * static_cast<float>(i % 7);
        ASSERT_EQ(v[i], want) << what << " rank " << r << " count " << count << " i " << i;
      }
    }
  });
}

TEST(PlannerRuntimeTest, EveryForcedAlgorithmSumsCorrectly) {
  for (const char* algo : {"ring", "tree", "hier", "auto"}) {
    setenv("MERIDIAN_ALGO", algo, 1);
    for (const char* order : {"auto", "rank"}) {
      setenv("MERIDIAN_RING_ORDER", order, 1);
      CommGroup g(4);
      ExpectSums(g, std::string("MERIDIAN_ALGO=") + algo + " RING_ORDER=" + order);
    }
  }
  unsetenv("MERIDIAN_ALGO");
  unsetenv("MERIDIAN_RING_ORDER");
}

TEST(PlannerRuntimeTest, ReplanningOnDriftKeepsRanksInStep) {
  // Any deviation from the predictions counts as drift: every step boundary
  // re-measures the links, on every rank alike, between operations.
  setenv("MERIDIAN_REPLAN_DRIFT", "1", 1);
  CommGroup g(3);
  for (int step = 0; step < 3; ++step) {
    ExpectSums(g, "step " + std::to_string(step));
    g.Run([&](int r, mdnComm_t c) {
      EXPECT_EQ(mdnCommUpdate(c), mdnSuccess) << "rank " << r << ": " << mdnCommGetLastError(c);
    });
  }
  ExpectSums(g, "after the last step boundary");
  unsetenv("MERIDIAN_REPLAN_DRIFT");
}

}  // namespace
