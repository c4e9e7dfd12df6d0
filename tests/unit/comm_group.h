// A group of communicators for tests: n ranks as threads of this process
// against an in-process coordinator (MERIDIAN_AUTH_TOKEN must be set first,
// e.g. by a ::testing::Environment).
#ifndef MERIDIAN_TESTS_UNIT_COMM_GROUP_H_
#define MERIDIAN_TESTS_UNIT_COMM_GROUP_H_

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"

namespace meridian::test_util {

// The config of a group of one (rank 0) at `coordinator`: what tests of
// option checks at mdnCommCreate start from.
inline mdnCommConfig_t OneRankConfig(const char* coordinator) {
  mdnCommConfig_t cfg;
  mdnCommConfigInit(&cfg);
  cfg.coordinator = coordinator;
  cfg.world_size = 1;
  cfg.rank = 0;
  cfg.connect_timeout_ms = 10000;
  return cfg;
}

// Starts a coordinator on `listen` and returns the address peers dial.
inline std::string StartCoordinator(mdnCoordinator_t* coord,
                                    const std::string& listen = "127.0.0.1:0") {
  EXPECT_EQ(mdnCoordinatorCreate(listen.c_str(), coord), mdnSuccess) << mdnGetLastError();
  char addr[128] = {0};
  EXPECT_EQ(mdnCoordinatorGetAddress(*coord, addr, sizeof(addr)), mdnSuccess);
  return addr;
}

// The config of one member of a group of `world` at `coordinator`, asking
// for `rank` (-1: the coordinator assigns one), with both the connect and
// the operation timeout at `timeout_ms`.
inline mdnCommConfig_t MemberConfig(const char* coordinator, int world, int rank,
                                    int timeout_ms) {
  mdnCommConfig_t cfg;
  mdnCommConfigInit(&cfg);
  cfg.coordinator = coordinator;
  cfg.world_size = world;
  cfg.rank = rank;
  cfg.connect_timeout_ms = timeout_ms;
  cfg.op_timeout_ms = timeout_ms;
  return cfg;
}

class CommGroup {
 public:
  explicit CommGroup(int n, int timeout_ms = 20000) : n_(n), comms_(n) {
    const std::string address = StartCoordinator(&coord_);
    Run([&](int r, mdnComm_t) {
      mdnCommConfig_t cfg = MemberConfig(address.c_str(), n_, r, timeout_ms);
      EXPECT_EQ(mdnCommCreate(&cfg, &comms_[r]), mdnSuccess) << mdnGetLastError();
    });
  }
  ~CommGroup() {
    for (auto c : comms_) mdnCommDestroy(c);
    mdnCoordinatorDestroy(coord_);
  }
  CommGroup(const CommGroup&) = delete;
  CommGroup& operator=(const CommGroup&) = delete;

  // Runs fn(rank, comm) on every rank at once.
  void Run(const std::function<void(int, mdnComm_t)>& fn) {
    std::vector<std::thread> threads;
    for (int r = 0; r < n_; ++r) threads.emplace_back([&, r] { fn(r, comms_[r]); });
    for (auto& t : threads) t.join();
  }
  mdnComm_t comm(int r) { return comms_[r]; }
  int size() const { return n_; }

 private:
  int n_;
  mdnCoordinator_t coord_ = nullptr;
  std::vector<mdnComm_t> comms_;
};

}  // namespace meridian::test_util

#endif  // MERIDIAN_TESTS_UNIT_COMM_GROUP_H_
