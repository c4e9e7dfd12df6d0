// The link matrix handed out with each epoch, end to end: ranks as threads
// of this process against an in-process coordinator.  The first epoch
// probes every pair; after a member leaves, the survivors probe nothing
// (the coordinator hands out every pair, remapped to their new ranks);
// after a peer joins, only its pairs are probed.  Collectives stay correct
// on every epoch.  MERIDIAN_PROBE=always probes every pair regardless.
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "runtime/src/c_api_internal.h"
#include "runtime/src/communicator.h"
#include "tests/unit/elastic_group.h"

namespace {

using Clock = std::chrono::steady_clock;
using meridian::runtime::LinkStats;
using meridian::test_util::JoinAll;
using meridian::test_util::Rank;
using meridian::test_util::StartCoordinator;

constexpr int kTimeoutMs = 8000;

mdnComm_t Join(const std::string& coord, int world) {
  return meridian::test_util::Join(coord, world, kTimeoutMs);
}

class Env : public ::testing::Environment {
 public:
  void SetUp() override {
    setenv("MERIDIAN_AUTH_TOKEN", "link-handout-test-token", 1);
    setenv("MERIDIAN_PROBE_BYTES", "262144", 1);
  }
};
::testing::Environment* const kEnv = ::testing::AddGlobalTestEnvironment(new Env);

LinkStats Stats(mdnComm_t c) { return c->impl->link_stats(); }

// fn(comm) on every comm at once.
template <typename Fn>
void OnAll(const std::vector<mdnComm_t>& comms, Fn fn) {
  std::vector<std::thread> threads;
  for (mdnComm_t c : comms) threads.emplace_back([c, &fn] { fn(c); });
  for (auto& t : threads) t.join();
}

// Sums of rank-dependent values, in a size that pipelines over chunks.
void ExpectSums(const std::vector<mdnComm_t>& comms, const std::string& what) {
  const int n = static_cast<int>(comms.size());
  OnAll(comms, [&](mdnComm_t c) {
    const size_t count = 100000;
    std::vector<float> v(count);
    const int r = Rank(c);
    for (size_t i = 0; i < count; ++i) v[i] = static_cast<float>(r + 1 + i % 5);
    ASSERT_EQ(mdnAllReduce(c, v.data(), v.data(), count, mdnFloat32, mdnSum), mdnSuccess)
        << what << ": " << mdnCommGetLastError(c);
    for (size_t i = 0; i < count; i += 997) {
      ASSERT_EQ(v[i], n * (n + 1) / 2.0f + n * static_cast<float>(i % 5)) << what << " i " << i;
    }
  });
}

void ExpectStats(const std::vector<mdnComm_t>& comms, uint64_t epoch, int handed_out,
                 int probed, int rounds, const std::string& what) {
  for (mdnComm_t c : comms) {
    const LinkStats s = Stats(c);
    // The fan-in's incast penalty: one value for the whole group, within
    // the model's range (measured, or handed out with the links).
    EXPECT_EQ(s.incast_penalty, Stats(comms[0]).incast_penalty) << what;
    EXPECT_GE(s.incast_penalty, 0.0) << what;
    EXPECT_LE(s.incast_penalty, 1.0) << what;
    EXPECT_EQ(s.epoch, epoch) << what;
    EXPECT_TRUE(s.measured) << what;
    EXPECT_EQ(s.handed_out_pairs, handed_out) << what << ", rank " << Rank(c);
    EXPECT_EQ(s.probed_pairs, probed) << what << ", rank " << Rank(c);
    EXPECT_EQ(s.probe_rounds, rounds) << what << ", rank " << Rank(c);
  }
}

// The member of rank `rank` leaves; the others reach a step boundary.
std::vector<mdnComm_t> Leave(std::vector<mdnComm_t> comms, int rank) {
  std::vector<mdnComm_t> rest;
  for (mdnComm_t c : comms) {
    if (Rank(c) == rank) {
      mdnCommDestroy(c);
    } else {
      rest.push_back(c);
    }
  }
  OnAll(rest, [](mdnComm_t c) {
    EXPECT_EQ(mdnCommUpdate(c), mdnSuccess) << mdnCommGetLastError(c);
  });
  return rest;
}

// A new peer joins; the members admit it at their next step boundary.
std::vector<mdnComm_t> Admit(std::vector<mdnComm_t> comms, const std::string& coord) {
  mdnComm_t joiner = nullptr;
  std::thread join([&] { joiner = Join(coord, 2); });
  OnAll(comms, [](mdnComm_t c) {
    const auto until = Clock::now() + std::chrono::seconds(8);
    int pending = 0;
    while (pending == 0 && Clock::now() < until) {
      ASSERT_EQ(mdnCommPendingJoiners(c, &pending), mdnSuccess);
      if (pending == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(pending, 1);
    EXPECT_EQ(mdnCommUpdate(c), mdnSuccess) << mdnCommGetLastError(c);
  });
  join.join();
  EXPECT_NE(joiner, nullptr);
  comms.push_back(joiner);
  return comms;
}

TEST(PlannerLinkHandout, LeaveProbesNothingAndJoinProbesOnlyTheJoinersPairs) {
  mdnCoordinator_t coord;
  const std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 4, kTimeoutMs);
  // Formation: 6 pairs in 3 rounds.
  ExpectStats(comms, 1, 0, 6, 3, "epoch 1");
  ExpectSums(comms, "epoch 1");
  const double incast = Stats(comms[0]).incast_penalty;

  // Rank 1 leaves: ranks 2 and 3 become 1 and 2, and all 3 of their pairs
  // were measured in epoch 1.
  comms = Leave(comms, 1);
  ASSERT_EQ(comms.size(), 3u);
  ExpectStats(comms, 2, 3, 0, 0, "epoch 2, after a leave");
  EXPECT_EQ(Stats(comms[0]).incast_penalty, incast) << "handed out with the links";
  ExpectSums(comms, "epoch 2");

  // A joiner: its 3 pairs, one per round (every other rank sits them out).
  comms = Admit(comms, addr);
  ASSERT_EQ(comms.size(), 4u);
  ExpectStats(comms, 3, 3, 3, 3, "epoch 3, after a join");
  ExpectSums(comms, "epoch 3");

  // Epoch 3's rank 0 reported the merged matrix: losing rank 0 now leaves
  // the others everything they need, joiner's pairs included.
  comms = Leave(comms, 0);
  ExpectStats(comms, 4, 3, 0, 0, "epoch 4, after rank 0 left");
  ExpectSums(comms, "epoch 4");

  for (mdnComm_t c : comms) mdnCommDestroy(c);
  mdnCoordinatorDestroy(coord);
}

TEST(PlannerLinkHandout, ProbeAlwaysMeasuresEveryPairAtEveryEpoch) {
  setenv("MERIDIAN_PROBE", "always", 1);
  mdnCoordinator_t coord;
  const std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 3, kTimeoutMs);
  ExpectStats(comms, 1, 0, 3, 3, "epoch 1");
  comms = Leave(comms, 2);
  ExpectStats(comms, 2, 0, 1, 1, "epoch 2, always");
  ExpectSums(comms, "epoch 2");
  for (mdnComm_t c : comms) mdnCommDestroy(c);
  mdnCoordinatorDestroy(coord);
  unsetenv("MERIDIAN_PROBE");
}

TEST(PlannerLinkHandout, ProbeOffMeasuresNothing) {
  setenv("MERIDIAN_PROBE", "0", 1);
  mdnCoordinator_t coord;
  const std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 3, kTimeoutMs);
  for (mdnComm_t c : comms) {
    EXPECT_FALSE(Stats(c).measured);
    EXPECT_EQ(Stats(c).probed_pairs, 0);
  }
  ExpectSums(comms, "unprobed");
  for (mdnComm_t c : comms) mdnCommDestroy(c);
  mdnCoordinatorDestroy(coord);
  unsetenv("MERIDIAN_PROBE");
}

}  // namespace
