// Membership changes end to end, through the C API, with ranks as threads
// of this process and an in-process coordinator: a peer that leaves in the
// middle of an operation, the re-formed group, in-place inputs kept intact,
// joiners admitted at a step boundary, the retry helper, and a coordinator
// that restarts under a running group.  (Crashed, hung and silent processes
// are covered by tests/integration/fault_scenarios.py.)
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "tests/unit/elastic_group.h"

namespace {

using Clock = std::chrono::steady_clock;
using meridian::test_util::Join;
using meridian::test_util::JoinAll;
using meridian::test_util::Rank;
using meridian::test_util::StartCoordinator;

class MembershipEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    setenv("MERIDIAN_AUTH_TOKEN", "membership-test-token", 1);
    // Short, so that a coordinator restart's grace period passes quickly.
    setenv("MERIDIAN_HEARTBEAT_TIMEOUT_MS", "1500", 1);
  }
};
::testing::Environment* const kEnv =
    ::testing::AddGlobalTestEnvironment(new MembershipEnvironment);

int Size(mdnComm_t c) {
  int s = -1;
  mdnCommSize(c, &s);
  return s;
}
uint64_t Epoch(mdnComm_t c) {
  uint64_t e = 0;
  mdnCommEpoch(c, &e);
  return e;
}

// Every comm all-reduces (rank + 1); returns the results.
void ExpectSum(const std::vector<mdnComm_t>& comms) {
  const int n = static_cast<int>(comms.size());
  std::vector<std::thread> threads;
  for (mdnComm_t c : comms) {
    threads.emplace_back([c, n] {
      std::vector<int32_t> v(1000, Rank(c) + 1);
      ASSERT_EQ(mdnAllReduce(c, v.data(), v.data(), v.size(), mdnInt32, mdnSum), mdnSuccess)
          << mdnCommGetLastError(c);
      EXPECT_EQ(Size(c), n);
      EXPECT_EQ(v[999], n * (n + 1) / 2);
    });
  }
  for (auto& t : threads) t.join();
}

TEST(Membership, LostPeerFailsSurvivorsNamingItThenGroupReforms) {
  mdnCoordinator_t coord;
  std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 3);
  ASSERT_EQ(Epoch(comms[0]), 1u);
  int leaver = -1;
  for (int i = 0; i < 3; ++i) {
    if (Rank(comms[i]) == 1) leaver = i;
  }
  ASSERT_GE(leaver, 0);
  std::vector<mdnComm_t> survivors;
  for (int i = 0; i < 3; ++i) {
    if (i != leaver) survivors.push_back(comms[i]);
  }
  // The survivors enter an all-reduce that rank 1 never joins; rank 1
  // leaves instead.  Both must fail, naming rank 1, well before the
  // operation timeout.
  std::vector<std::thread> threads;
  std::vector<double> seconds(2);
  std::vector<std::vector<int32_t>> bufs(2, std::vector<int32_t>(1 << 20, 7));
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] {
      mdnComm_t c = survivors[i];
      auto t0 = Clock::now();
      mdnResult_t rc = mdnAllReduce(c, bufs[i].data(), bufs[i].data(), bufs[i].size(),
                                    mdnInt32, mdnSum);
      seconds[i] = std::chrono::duration<double>(Clock::now() - t0).count();
      EXPECT_EQ(rc, mdnPeerLost) << mdnCommGetLastError(c);
      EXPECT_NE(std::string(mdnCommGetLastError(c)).find("rank 1"), std::string::npos)
          << mdnCommGetLastError(c);
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  mdnCommDestroy(comms[leaver]);
  for (auto& t : threads) t.join();
  for (double s : seconds) EXPECT_LT(s, 5.0);
  // In-place input intact: nothing was summed into it.
  for (auto& b : bufs) {
    for (size_t j = 0; j < b.size(); j += 4099) ASSERT_EQ(b[j], 7) << j;
  }
  // The next call runs on the re-formed group: 2 ranks, epoch 2.  (Its
  // rank is known only once it has re-formed, so the input here does not
  // depend on it.)
  threads.clear();
  for (mdnComm_t c : survivors) {
    threads.emplace_back([c] {
      std::vector<int32_t> ones(100, 1);
      ASSERT_EQ(mdnAllReduce(c, ones.data(), ones.data(), ones.size(), mdnInt32, mdnSum),
                mdnSuccess)
          << mdnCommGetLastError(c);
      EXPECT_EQ(ones[99], 2);
    });
  }
  for (auto& t : threads) t.join();
  ExpectSum(survivors);
  for (mdnComm_t c : survivors) {
    EXPECT_EQ(Epoch(c), 2u);
    EXPECT_EQ(Size(c), 2);
  }
  for (mdnComm_t c : survivors) mdnCommDestroy(c);
  mdnCoordinatorDestroy(coord);
}

TEST(Membership, JoinerIsAdmittedAtUpdateAndUpdateWithoutChangeKeepsEpoch) {
  mdnCoordinator_t coord;
  std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 2);
  // A step boundary with nothing pending changes nothing.
  {
    std::vector<std::thread> threads;
    for (mdnComm_t c : comms) {
      threads.emplace_back([c] {
        int pending = -1;
        ASSERT_EQ(mdnCommPendingJoiners(c, &pending), mdnSuccess) << mdnCommGetLastError(c);
        EXPECT_EQ(pending, 0);
        ASSERT_EQ(mdnCommUpdate(c), mdnSuccess) << mdnCommGetLastError(c);
      });
    }
    for (auto& t : threads) t.join();
    for (mdnComm_t c : comms) EXPECT_EQ(Epoch(c), 1u);
  }
  // A joiner started with a different world size still joins this group.
  mdnComm_t joiner = nullptr;
  std::thread join_thread([&] { joiner = Join(addr, 7); });
  // Members poll the agreed pending count until they see it.
  std::vector<std::thread> threads;
  for (mdnComm_t c : comms) {
    threads.emplace_back([c] {
      auto until = Clock::now() + std::chrono::seconds(10);
      int pending = 0;
      while (pending == 0 && Clock::now() < until) {
        ASSERT_EQ(mdnCommPendingJoiners(c, &pending), mdnSuccess) << mdnCommGetLastError(c);
        if (pending == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_EQ(pending, 1);
      ASSERT_EQ(mdnCommUpdate(c), mdnSuccess) << mdnCommGetLastError(c);
    });
  }
  for (auto& t : threads) t.join();
  join_thread.join();
  ASSERT_NE(joiner, nullptr);
  EXPECT_EQ(Rank(joiner), 2);
  EXPECT_EQ(Size(joiner), 3);
  comms.push_back(joiner);
  for (mdnComm_t c : comms) EXPECT_EQ(Epoch(c), 2u);
  ExpectSum(comms);
  for (mdnComm_t c : comms) mdnCommDestroy(c);
  mdnCoordinatorDestroy(coord);
}

struct RetryCtx {
  std::vector<int32_t> buf;
  int calls = 0;
};

mdnResult_t AllReduceStep(mdnComm_t comm, void* user) {
  auto* ctx = static_cast<RetryCtx*>(user);
  ++ctx->calls;
  return mdnAllReduce(comm, ctx->buf.data(), ctx->buf.data(), ctx->buf.size(), mdnInt32,
                      mdnSum);
}

TEST(Membership, RetryRunsUntilSuccessOnTheSmallerGroupOrGivesUpBelowMinimum) {
  mdnCoordinator_t coord;
  std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 3);
  mdnComm_t leaver = nullptr;
  std::vector<mdnComm_t> survivors;
  for (mdnComm_t c : comms) {
    if (Rank(c) == 2) {
      leaver = c;
    } else {
      survivors.push_back(c);
    }
  }
  std::vector<RetryCtx> ctx(2);
  std::vector<mdnResult_t> rcs(2);
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    ctx[i].buf.assign(1 << 18, 1);
    threads.emplace_back(
        [&, i] { rcs[i] = mdnRetry(survivors[i], 2, 0, AllReduceStep, &ctx[i]); });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  mdnCommDestroy(leaver);
  for (auto& t : threads) t.join();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(rcs[i], mdnSuccess) << mdnCommGetLastError(survivors[i]);
    EXPECT_EQ(ctx[i].calls, 2);
    // The retried step summed the intact input over the 2 survivors.
    EXPECT_EQ(ctx[i].buf[12345], 2);
  }
  // With a minimum of 2, losing one more is the end.
  mdnComm_t last = survivors[0];
  RetryCtx c;
  c.buf.assign(1 << 18, 1);
  mdnResult_t rc = mdnSuccess;
  std::thread t([&] { rc = mdnRetry(last, 2, 0, AllReduceStep, &c); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  mdnCommDestroy(survivors[1]);
  t.join();
  EXPECT_EQ(rc, mdnPeerLost);
  EXPECT_NE(std::string(mdnCommGetLastError(last)).find("fewer than min_world_size 2"),
            std::string::npos)
      << mdnCommGetLastError(last);
  EXPECT_EQ(mdnRetry(last, 0, 0, AllReduceStep, &c), mdnInvalidArgument);
  EXPECT_EQ(mdnRetry(last, 1, 0, nullptr, &c), mdnInvalidArgument);
  mdnCommDestroy(last);
  mdnCoordinatorDestroy(coord);
}

TEST(Membership, CoordinatorRestartLosesNothing) {
  mdnCoordinator_t coord;
  std::string addr = StartCoordinator(&coord);
  std::vector<mdnComm_t> comms = JoinAll(addr, 3);
  ExpectSum(comms);
  mdnCoordinatorDestroy(coord);
  // The data plane does not need the coordinator.
  ExpectSum(comms);
  // Restarted on the same address, it rebuilds the group from the peers'
  // reports; a step boundary then works as before, on the same epoch.
  ASSERT_EQ(StartCoordinator(&coord, addr), addr);
  std::vector<std::thread> threads;
  for (mdnComm_t c : comms) {
    threads.emplace_back([c] { EXPECT_EQ(mdnCommUpdate(c), mdnSuccess) << mdnCommGetLastError(c); });
  }
  for (auto& t : threads) t.join();
  for (mdnComm_t c : comms) EXPECT_EQ(Epoch(c), 1u);
  ExpectSum(comms);
  // And a joiner is admitted by the restarted coordinator.
  mdnComm_t joiner = nullptr;
  std::thread join_thread([&] { joiner = Join(addr, 3); });
  threads.clear();
  for (mdnComm_t c : comms) {
    threads.emplace_back([c] {
      int pending = 0;
      auto until = Clock::now() + std::chrono::seconds(10);
      while (pending == 0 && Clock::now() < until) {
        ASSERT_EQ(mdnCommPendingJoiners(c, &pending), mdnSuccess) << mdnCommGetLastError(c);
      }
      ASSERT_EQ(mdnCommUpdate(c), mdnSuccess) << mdnCommGetLastError(c);
    });
  }
  for (auto& t : threads) t.join();
  join_thread.join();
  ASSERT_NE(joiner, nullptr);
  comms.push_back(joiner);
  ExpectSum(comms);
  for (mdnComm_t c : comms) mdnCommDestroy(c);
  mdnCoordinatorDestroy(coord);
}

TEST(Membership, ArgumentErrors) {
  int n = 0;
  EXPECT_EQ(mdnCommUpdate(nullptr), mdnInvalidArgument);
  EXPECT_EQ(mdnCommPendingJoiners(nullptr, &n), mdnInvalidArgument);
  EXPECT_EQ(mdnRetry(nullptr, 1, 0, AllReduceStep, nullptr), mdnInvalidArgument);
}

}  // namespace
