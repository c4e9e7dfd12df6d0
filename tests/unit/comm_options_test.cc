// Where a communicator's settings come from: config struct first, then
// MERIDIAN_* variables, then torchrun's, then defaults — and clear errors for
// values that are missing or malformed.
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "runtime/src/comm_options.h"

namespace meridian::runtime {
namespace {

class CommOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* v : {"MERIDIAN_COORDINATOR", "MERIDIAN_WORLD_SIZE", "MERIDIAN_RANK",
                          "MERIDIAN_ADVERTISE_ADDR", "MASTER_ADDR", "MASTER_PORT", "RANK",
                          "WORLD_SIZE", "MERIDIAN_AUTH_TOKEN_FILE", "MERIDIAN_INSECURE"}) {
      unsetenv(v);
    }
    // Every communicator needs a token now; the token rules have their own
    // test below.
    setenv("MERIDIAN_AUTH_TOKEN", "comm-options-test-token", 1);
  }
};

TEST_F(CommOptionsTest, AuthTokenOrExplicitInsecureMode) {
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:29500", 1);
  setenv("MERIDIAN_WORLD_SIZE", "2", 1);
  absl::StatusOr<CommOptions> o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->auth_token, "comm-options-test-token");

  unsetenv("MERIDIAN_AUTH_TOKEN");
  o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(o.status())) << o.status();
  EXPECT_NE(o.status().message().find("MERIDIAN_AUTH_TOKEN"), std::string::npos)
      << o.status();
  EXPECT_NE(o.status().message().find("MERIDIAN_INSECURE=1"), std::string::npos)
      << o.status();

  setenv("MERIDIAN_INSECURE", "1", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->auth_token, "");  // unauthenticated, by explicit consent

  setenv("MERIDIAN_INSECURE", "yes", 1);  // only "1" consents
  EXPECT_FALSE(ResolveCommOptions(nullptr).ok());
  unsetenv("MERIDIAN_INSECURE");
  setenv("MERIDIAN_AUTH_TOKEN", "", 1);  // an empty token is no secret
  o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("empty"), std::string::npos) << o.status();
}

TEST_F(CommOptionsTest, MeridianVariables) {
  setenv("MERIDIAN_COORDINATOR", "10.1.2.3:29500", 1);
  setenv("MERIDIAN_WORLD_SIZE", "8", 1);
  setenv("MERIDIAN_RANK", "3", 1);
  setenv("MERIDIAN_ADVERTISE_ADDR", "192.168.7.7", 1);
  auto o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->coordinator.host, "10.1.2.3");
  EXPECT_EQ(o->coordinator.port, 29500);
  EXPECT_EQ(o->world_size, 8);
  EXPECT_EQ(o->rank, 3);
  EXPECT_EQ(o->advertise_host, "192.168.7.7");
  EXPECT_EQ(o->connections_per_peer, 0);  // auto: chosen from the roster
}

TEST_F(CommOptionsTest, TorchrunVariablesWhenMeridianOnesAreAbsent) {
  setenv("MASTER_ADDR", "127.0.0.1", 1);
  setenv("MASTER_PORT", "1234", 1);
  setenv("WORLD_SIZE", "4", 1);
  setenv("RANK", "2", 1);
  auto o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->coordinator.ToString(), "127.0.0.1:1234");
  EXPECT_EQ(o->world_size, 4);
  EXPECT_EQ(o->rank, 2);
  // MERIDIAN_* wins over torchrun's.
  setenv("MERIDIAN_WORLD_SIZE", "6", 1);
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:999", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->world_size, 6);
  EXPECT_EQ(o->coordinator.port, 999);
}

TEST_F(CommOptionsTest, ConfigStructWinsAndOlderStructsKeepWorking) {
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:1", 1);
  setenv("MERIDIAN_WORLD_SIZE", "2", 1);
  mdnCommConfig_t cfg;
  mdnCommConfigInit(&cfg);
  cfg.coordinator = "127.0.0.1:5555";
  cfg.world_size = 3;
  cfg.connections_per_peer = 7;
  auto o = ResolveCommOptions(&cfg);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->coordinator.port, 5555);
  EXPECT_EQ(o->world_size, 3);
  EXPECT_EQ(o->connections_per_peer, 7);
  EXPECT_EQ(o->rank, -1);
  // A binary built against an older, shorter struct: fields past its size
  // are not read (they come from the environment).
  cfg.struct_size = offsetof(mdnCommConfig_t, coordinator);
  o = ResolveCommOptions(&cfg);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->coordinator.port, 1);
  EXPECT_EQ(o->world_size, 2);
}

TEST_F(CommOptionsTest, ClearErrors) {
  auto o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(std::string(o.status().message()).find("MERIDIAN_COORDINATOR"), std::string::npos);
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:29500", 1);
  setenv("MERIDIAN_WORLD_SIZE", "four", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(std::string(o.status().message()).find("MERIDIAN_WORLD_SIZE='four'"), std::string::npos)
      << o.status();
  setenv("MERIDIAN_WORLD_SIZE", "0", 1);
  EXPECT_FALSE(ResolveCommOptions(nullptr).ok());
  setenv("MERIDIAN_WORLD_SIZE", "4", 1);
  setenv("MERIDIAN_RANK", "4", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(std::string(o.status().message()).find("out of range"), std::string::npos);
  setenv("MERIDIAN_RANK", "1", 1);
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:0", 1);
  EXPECT_FALSE(ResolveCommOptions(nullptr).ok());
  setenv("MERIDIAN_COORDINATOR", "no-port-here", 1);
  EXPECT_FALSE(ResolveCommOptions(nullptr).ok());
}

}  // namespace
}  // namespace meridian::runtime

namespace meridian::runtime {
namespace {

class PlannerOptionsTest : public CommOptionsTest {
 protected:
  void SetUp() override {
    CommOptionsTest::SetUp();
    setenv("MERIDIAN_COORDINATOR", "127.0.0.1:29500", 1);
    setenv("MERIDIAN_WORLD_SIZE", "3", 1);
  }
  void TearDown() override {
    for (const char* v : {"MERIDIAN_ALGO", "MERIDIAN_RING_ORDER", "MERIDIAN_DEBUG",
                          "MERIDIAN_PROBE", "MERIDIAN_REPLAN_DRIFT", "MERIDIAN_TOPOLOGY_FILE"}) {
      unsetenv(v);
    }
  }
  // The error for `var`=`value`, which must name the variable.
  void ExpectRejected(const char* var, const char* value) {
    setenv(var, value, 1);
    absl::StatusOr<CommOptions> o = ResolveCommOptions(nullptr);
    ASSERT_FALSE(o.ok()) << var << "=" << value;
    EXPECT_TRUE(absl::IsInvalidArgument(o.status())) << o.status();
    EXPECT_NE(o.status().message().find(var), std::string::npos) << o.status();
    unsetenv(var);
  }
};

TEST_F(PlannerOptionsTest, DefaultsAndOverrides) {
  absl::StatusOr<CommOptions> o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->planner.algo, PlannerOptions::Algo::kAuto);
  EXPECT_TRUE(o->planner.reorder_ring);
  EXPECT_FALSE(o->planner.debug_plan);
  EXPECT_EQ(o->planner.probe, -1);
  EXPECT_DOUBLE_EQ(o->planner.replan_drift, 2.0);
  setenv("MERIDIAN_ALGO", "hier", 1);
  setenv("MERIDIAN_RING_ORDER", "rank", 1);
  setenv("MERIDIAN_DEBUG", "other,plan", 1);
  setenv("MERIDIAN_PROBE", "0", 1);
  setenv("MERIDIAN_REPLAN_DRIFT", "0", 1);
  setenv("MERIDIAN_TOPOLOGY_FILE", "/tmp/t.txt", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->planner.algo, PlannerOptions::Algo::kHierarchical);
  EXPECT_FALSE(o->planner.reorder_ring);
  EXPECT_TRUE(o->planner.debug_plan);
  EXPECT_EQ(o->planner.probe, 0);
  EXPECT_DOUBLE_EQ(o->planner.replan_drift, 0);
  EXPECT_EQ(o->planner.topology_file, "/tmp/t.txt");
}

TEST_F(PlannerOptionsTest, ProbeAlwaysIgnoresHandedOutLinks) {
  setenv("MERIDIAN_PROBE", "always", 1);
  absl::StatusOr<CommOptions> o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->planner.probe, PlannerOptions::kProbeAlways);
}

TEST_F(PlannerOptionsTest, MalformedValuesAreErrorsNamingTheVariable) {
  ExpectRejected("MERIDIAN_ALGO", "fastest");
  ExpectRejected("MERIDIAN_RING_ORDER", "random");
  ExpectRejected("MERIDIAN_PROBE", "yes");
  ExpectRejected("MERIDIAN_REPLAN_DRIFT", "0.5");
  ExpectRejected("MERIDIAN_REPLAN_DRIFT", "two");
}

}  // namespace
}  // namespace meridian::runtime
