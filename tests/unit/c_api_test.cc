// The C API's contract for bad input: each wrong argument, mismatched call,
// unreachable coordinator and busy port gets its documented result code and
// a message that says what was wrong — and the communicator keeps working.
// Ranks run as threads of this process against an in-process coordinator.
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "transport/socket.h"

namespace {

using Clock = std::chrono::steady_clock;

// The in-process coordinator and every communicator read the token from the
// environment; one for the whole binary, set before any test runs.
class AuthTokenEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { setenv("MERIDIAN_AUTH_TOKEN", "c-api-test-token", 1); }
};
::testing::Environment* const kAuthEnv =
    ::testing::AddGlobalTestEnvironment(new AuthTokenEnvironment);

class Group {
 public:
  explicit Group(int n) : n_(n) {
    EXPECT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &coord_), mdnSuccess) << mdnGetLastError();
    char addr[128];
    EXPECT_EQ(mdnCoordinatorGetAddress(coord_, addr, sizeof(addr)), mdnSuccess);
    address_ = addr;
    comms_.resize(n);
    std::vector<std::thread> threads;
    for (int r = 0; r < n; ++r) {
      threads.emplace_back([this, r] {
        mdnCommConfig_t cfg;
        mdnCommConfigInit(&cfg);
        cfg.coordinator = address_.c_str();
        cfg.world_size = n_;
        cfg.rank = r;
        cfg.connect_timeout_ms = 20000;
        cfg.op_timeout_ms = 20000;
        EXPECT_EQ(mdnCommCreate(&cfg, &comms_[r]), mdnSuccess) << mdnGetLastError();
      });
    }
    for (auto& t : threads) t.join();
  }
  ~Group() {
    for (auto c : comms_) mdnCommDestroy(c);
    mdnCoordinatorDestroy(coord_);
  }
  // Runs fn(rank, comm) on every rank at once.
  void Run(const std::function<void(int, mdnComm_t)>& fn) {
    std::vector<std::thread> threads;
    for (int r = 0; r < n_; ++r) threads.emplace_back([&, r] { fn(r, comms_[r]); });
    for (auto& t : threads) t.join();
  }
  mdnComm_t comm(int r) { return comms_[r]; }

 private:
  int n_;
  mdnCoordinator_t coord_ = nullptr;
  std::string address_;
  std::vector<mdnComm_t> comms_;
};

void ExpectSumWorks(Group& g, int n) {
  g.Run([n](int r, mdnComm_t c) {
    std::vector<float> v(1000, static_cast<float>(r + 1));
    ASSERT_EQ(mdnAllReduce(c, v.data(), v.data(), v.size(), mdnFloat32, mdnSum), mdnSuccess)
        << mdnCommGetLastError(c);
    EXPECT_EQ(v[999], n * (n + 1) / 2.0f);
  });
}

TEST(CApiTest, VersionAndErrorStrings) {
  EXPECT_EQ(mdnGetVersion(), MDN_VERSION_CODE);
  EXPECT_STREQ(mdnGetVersionString(), "0.1.0");
  for (int rc = 0; rc <= 9; ++rc) {
    EXPECT_STRNE(mdnGetErrorString(static_cast<mdnResult_t>(rc)), "unknown result code");
  }
  EXPECT_STREQ(mdnGetErrorString(static_cast<mdnResult_t>(99)), "unknown result code");
  EXPECT_EQ(mdnDataTypeSize(mdnBfloat16), 2u);
  EXPECT_EQ(mdnDataTypeSize(static_cast<mdnDataType_t>(42)), 0u);
}

TEST(CApiTest, ConfigErrors) {
  EXPECT_EQ(mdnCommConfigInit(nullptr), mdnInvalidArgument);
  mdnComm_t comm = nullptr;
  mdnCommConfig_t cfg = {};
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnGetLastError()).find("mdnCommConfigInit"), std::string::npos);
  EXPECT_EQ(comm, nullptr);

  unsetenv("MERIDIAN_COORDINATOR");
  unsetenv("MASTER_ADDR");
  mdnCommConfigInit(&cfg);
  cfg.world_size = 2;
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnGetLastError()).find("MERIDIAN_COORDINATOR"), std::string::npos);

  cfg.coordinator = "127.0.0.1:notaport";
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnInvalidArgument);
  cfg.coordinator = "127.0.0.1:1234";
  cfg.world_size = 2;
  cfg.rank = 5;
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnGetLastError()).find("out of range"), std::string::npos);
  EXPECT_EQ(mdnCommCreate(&cfg, nullptr), mdnInvalidArgument);
}

TEST(CApiTest, UnreachableCoordinatorTimesOutInTime) {
  // A port that was just free: nobody listens there.
  auto listener = meridian::transport::Listen({"127.0.0.1", 0});
  ASSERT_TRUE(listener.ok());
  auto addr = meridian::transport::LocalAddress(listener->get());
  ASSERT_TRUE(addr.ok());
  listener->reset();
  std::string where = addr->ToString();
  mdnCommConfig_t cfg;
  mdnCommConfigInit(&cfg);
  cfg.coordinator = where.c_str();
  cfg.world_size = 2;
  cfg.connect_timeout_ms = 500;
  mdnComm_t comm = nullptr;
  auto start = Clock::now();
  EXPECT_EQ(mdnCommCreate(&cfg, &comm), mdnTimeout);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  EXPECT_NE(std::string(mdnGetLastError()).find(where), std::string::npos) << mdnGetLastError();
}

TEST(CApiTest, CoordinatorPortInUse) {
  mdnCoordinator_t a = nullptr, b = nullptr;
  ASSERT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &a), mdnSuccess);
  char addr[128];
  ASSERT_EQ(mdnCoordinatorGetAddress(a, addr, sizeof(addr)), mdnSuccess);
  char tiny[4];
  EXPECT_EQ(mdnCoordinatorGetAddress(a, tiny, sizeof(tiny)), mdnInvalidArgument);
  EXPECT_EQ(mdnCoordinatorCreate(addr, &b), mdnUnavailable);
  EXPECT_NE(std::string(mdnGetLastError()).find("in use"), std::string::npos) << mdnGetLastError();
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(mdnCoordinatorCreate(nullptr, &b), mdnInvalidArgument);
  EXPECT_EQ(mdnCoordinatorCreate("nonsense", &b), mdnInvalidArgument);
  mdnCoordinatorDestroy(a);
}

TEST(CApiTest, BadArgumentsFailLocallyAndLeaveTheGroupUsable) {
  Group g(3);
  mdnComm_t c = g.comm(0);
  float x[4] = {0};
  EXPECT_EQ(mdnAllReduce(nullptr, x, x, 4, mdnFloat32, mdnSum), mdnInvalidArgument);
  EXPECT_EQ(mdnAllReduce(c, nullptr, x, 4, mdnFloat32, mdnSum), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnCommGetLastError(c)).find("sendbuf is NULL"), std::string::npos);
  EXPECT_EQ(mdnAllReduce(c, x, nullptr, 4, mdnFloat32, mdnSum), mdnInvalidArgument);
  EXPECT_EQ(mdnAllReduce(c, x, x, 4, static_cast<mdnDataType_t>(42), mdnSum), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnCommGetLastError(c)).find("unknown data type 42"), std::string::npos);
  EXPECT_EQ(mdnAllReduce(c, x, x, 4, mdnFloat32, static_cast<mdnRedOp_t>(-1)), mdnInvalidArgument);
  EXPECT_EQ(mdnAllReduce(c, x, x, SIZE_MAX / 2, mdnFloat32, mdnSum), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnCommGetLastError(c)).find("too large"), std::string::npos);
  EXPECT_EQ(mdnAllGather(c, x, x + 1, 2, mdnFloat32), mdnInvalidArgument);  // partial overlap
  EXPECT_EQ(mdnBroadcast(c, x, x, 4, mdnFloat32, 3), mdnInvalidArgument);
  EXPECT_EQ(mdnReduce(c, x, x, 4, mdnFloat32, mdnSum, -1), mdnInvalidArgument);
  mdnRequest_t req = nullptr;
  EXPECT_EQ(mdnAllReduceAsync(c, x, x, 4, mdnFloat32, mdnSum, nullptr), mdnInvalidArgument);
  EXPECT_EQ(mdnWait(nullptr), mdnInvalidArgument);
  EXPECT_EQ(mdnWait(&req), mdnInvalidArgument);
  int done = 0;
  EXPECT_EQ(mdnTest(&req, &done), mdnInvalidArgument);
  int rank = -1;
  EXPECT_EQ(mdnCommRank(nullptr, &rank), mdnInvalidArgument);
  EXPECT_EQ(mdnCommRank(c, nullptr), mdnInvalidArgument);
  // Nothing was queued: the next real call of every rank still pairs up.
  ExpectSumWorks(g, 3);
}

TEST(CApiTest, MismatchedCountIsInvalidUsageOnEveryRank) {
  Group g(3);
  g.Run([](int r, mdnComm_t c) {
    std::vector<float> v(100, 1.0f);
    size_t count = r == 1 ? 60 : 100;
    EXPECT_EQ(mdnAllReduce(c, v.data(), v.data(), count, mdnFloat32, mdnSum), mdnInvalidUsage)
        << "rank " << r;
    std::string msg = mdnCommGetLastError(c);
    EXPECT_NE(msg.find("mismatched"), std::string::npos) << msg;
    EXPECT_NE(msg.find("count=60"), std::string::npos) << msg;
  });
  ExpectSumWorks(g, 3);
}

TEST(CApiTest, MismatchedTypeOrCollectiveIsInvalidUsage) {
  Group g(4);
  g.Run([](int r, mdnComm_t c) {
    std::vector<double> v(64, 1.0);
    mdnDataType_t t = r == 3 ? mdnFloat64 : mdnInt64;
    EXPECT_EQ(mdnAllReduce(c, v.data(), v.data(), 64, t, mdnSum), mdnInvalidUsage) << "rank " << r;
    std::string msg = mdnCommGetLastError(c);
    EXPECT_NE(msg.find("double"), std::string::npos) << msg;
  });
  g.Run([](int r, mdnComm_t c) {
    std::vector<float> v(64, 1.0f);
    mdnResult_t rc = r == 0 ? mdnBroadcast(c, v.data(), v.data(), 64, mdnFloat32, 0)
                            : mdnAllReduce(c, v.data(), v.data(), 64, mdnFloat32, mdnSum);
    EXPECT_EQ(rc, mdnInvalidUsage) << "rank " << r << ": " << mdnCommGetLastError(c);
  });
  ExpectSumWorks(g, 4);
}

TEST(CApiTest, WorldOfOne) {
  Group g(1);
  mdnComm_t c = g.comm(0);
  int size = 0;
  uint64_t epoch = 0;
  ASSERT_EQ(mdnCommSize(c, &size), mdnSuccess);
  ASSERT_EQ(mdnCommEpoch(c, &epoch), mdnSuccess);
  EXPECT_EQ(size, 1);
  EXPECT_EQ(epoch, 1u);
  float in[3] = {1, 2, 3}, out[3] = {0, 0, 0};
  ASSERT_EQ(mdnAllReduce(c, in, out, 3, mdnFloat32, mdnAvg), mdnSuccess);
  EXPECT_EQ(out[2], 3.0f);
  ASSERT_EQ(mdnAllReduce(c, in, out, 0, mdnFloat32, mdnSum), mdnSuccess);
  ASSERT_EQ(mdnBarrier(c), mdnSuccess);
}

}  // namespace
