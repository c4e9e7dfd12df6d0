// Where the progress thread runs: MERIDIAN_PROGRESS_CPUS parsing, the pure
// placement decision on single- and dual-NUMA topologies, and one real
// pthread_setaffinity_np call on this machine.
#include "runtime/src/progress_placement.h"

#include <cstdlib>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "meridian.h"
#include "runtime/src/comm_options.h"
#include "tests/unit/comm_group.h"

namespace meridian::runtime {
namespace {

std::string Data(const char* name) { return std::string(MERIDIAN_TEST_DATA_DIR "/") + name; }

ProgressCpus Auto() { return ProgressCpus{}; }

// The XML's dual-NUMA machine by hand (runs without hwloc): PUs 0-1 on
// node 0 with eth0, PUs 2-3 on node 1 with eth1; eth2 hangs off the
// machine (both nodes).
HostTopology DualNuma() {
  HostTopology t;
  t.loaded = true;
  t.numa = {HostNumaNode{0, {0, 1}, 0}, HostNumaNode{1, {2, 3}, 0}};
  t.devices = {HostDevice{"eth0", "network", "0000:00:03.0", "", {0}, {0, 1}},
               HostDevice{"eth1", "network", "0000:40:00.0", "", {1}, {2, 3}},
               HostDevice{"eth2", "network", "0000:80:00.0", "", {0, 1}, {0, 1, 2, 3}}};
  return t;
}

HostTopology SingleNuma() {
  HostTopology t;
  t.loaded = true;
  t.numa = {HostNumaNode{0, {0, 1}, 0}};
  t.devices = {HostDevice{"eth0", "network", "0000:00:03.0", "", {0}, {0, 1}}};
  return t;
}

NicLocality Nic(const HostTopology& t, const char* name) {
  return NicLocality{name, t.Device(name, "network")};
}

TEST(ProgressCpusTest, ParsesAutoNoneAndLists) {
  absl::StatusOr<ProgressCpus> p = ParseProgressCpus("auto");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->mode, ProgressCpus::Mode::kAuto);
  p = ParseProgressCpus("none");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->mode, ProgressCpus::Mode::kNone);
  p = ParseProgressCpus("0-3,8");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->mode, ProgressCpus::Mode::kList);
  EXPECT_EQ(p->cpus, (CpuList{0, 1, 2, 3, 8}));
}

TEST(ProgressCpusTest, InvalidValuesNameTheVariable) {
  for (const char* text : {"", "Auto", "all", "0-", "3-1", "1,,2", "-1", "cpu0"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<ProgressCpus> p = ParseProgressCpus(text);
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(p.status())) << p.status();
    EXPECT_NE(p.status().message().find(std::string("MERIDIAN_PROGRESS_CPUS='") + text + "'"),
              std::string::npos)
        << p.status();
    EXPECT_NE(p.status().message().find("auto, none or a CPU list"), std::string::npos)
        << p.status();
  }
}

TEST(PlacementTest, DualNumaBindsToTheNicsNode) {
  const HostTopology t = DualNuma();
  Placement p = DecideProgressPlacement(t, Auto(), Nic(t, "eth1"), {0, 1, 2, 3});
  EXPECT_TRUE(p.bind);
  EXPECT_EQ(p.cpus, (CpuList{2, 3}));
  EXPECT_NE(p.why.find("eth1 is local to NUMA node 1 (CPUs 2-3)"), std::string::npos) << p.why;

  p = DecideProgressPlacement(t, Auto(), Nic(t, "eth0"), {});  // affinity unknown
  EXPECT_TRUE(p.bind);
  EXPECT_EQ(p.cpus, (CpuList{0, 1}));
}

TEST(PlacementTest, DualNumaWithinWhatTheThreadMayUse) {
  const HostTopology t = DualNuma();
  // Partly inside: the overlap.
  Placement p = DecideProgressPlacement(t, Auto(), Nic(t, "eth1"), {1, 2});
  EXPECT_TRUE(p.bind);
  EXPECT_EQ(p.cpus, (CpuList{2}));
  // Pinned elsewhere by a launcher: left alone.
  p = DecideProgressPlacement(t, Auto(), Nic(t, "eth1"), {0, 1});
  EXPECT_FALSE(p.bind);
  EXPECT_NE(p.why.find("may only use CPUs 0-1"), std::string::npos) << p.why;
  // Already inside the node: nothing to change.
  p = DecideProgressPlacement(t, Auto(), Nic(t, "eth1"), {3});
  EXPECT_FALSE(p.bind);
  EXPECT_NE(p.why.find("already confined"), std::string::npos) << p.why;
}

TEST(PlacementTest, DualNumaWithoutLocalityDoesNotBind) {
  const HostTopology t = DualNuma();
  const CpuList all = {0, 1, 2, 3};
  struct Case {
    NicLocality nic;
    const char* says;
  } cases[] = {
      {NicLocality{"docker0", nullptr}, "docker0 has no NUMA locality"},
      {NicLocality{"", nullptr}, "not on a local interface"},
      {Nic(t, "eth2"), "equally close to every NUMA node"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.says);
    Placement p = DecideProgressPlacement(t, Auto(), c.nic, all);
    EXPECT_FALSE(p.bind);
    EXPECT_NE(p.why.find(c.says), std::string::npos) << p.why;
  }
}

TEST(PlacementTest, SingleNumaOrNoTopologyDoesNothingOnAuto) {
  const HostTopology one = SingleNuma();
  Placement p = DecideProgressPlacement(one, Auto(), Nic(one, "eth0"), {0, 1});
  EXPECT_FALSE(p.bind);
  EXPECT_EQ(p.why, "one NUMA node");

  HostTopology none;
  none.problem = "built without hwloc";
  p = DecideProgressPlacement(none, Auto(), NicLocality{"eth0", nullptr}, {0, 1});
  EXPECT_FALSE(p.bind);
  EXPECT_NE(p.why.find("built without hwloc"), std::string::npos) << p.why;
}

TEST(PlacementTest, ExplicitSettingsOverrideOnAnyHost) {
  for (const HostTopology& t : {SingleNuma(), DualNuma(), HostTopology{}}) {
    ProgressCpus list;
    list.mode = ProgressCpus::Mode::kList;
    list.cpus = {1, 3};
    Placement p = DecideProgressPlacement(t, list, Nic(t, "eth1"), {0, 1, 2, 3});
    EXPECT_TRUE(p.bind);
    EXPECT_EQ(p.cpus, (CpuList{1, 3}));
    EXPECT_EQ(p.why, "MERIDIAN_PROGRESS_CPUS=1,3");

    ProgressCpus none;
    none.mode = ProgressCpus::Mode::kNone;
    p = DecideProgressPlacement(t, none, Nic(t, "eth1"), {0, 1, 2, 3});
    EXPECT_FALSE(p.bind);
    EXPECT_EQ(p.why, "MERIDIAN_PROGRESS_CPUS=none");
  }
}

TEST(PlacementTest, FromXmlTopologies) {
  if (!HaveHwloc()) GTEST_SKIP() << "built without hwloc";
  HostTopology dual = LoadHostTopologyXml(Data("hwloc_2numa_eth1.xml"));
  ASSERT_TRUE(dual.loaded) << dual.problem;
  const std::vector<NetInterface> ifs = {
      NetInterface{"eth1", {"10.0.0.5"}, {"10.0.0.5"}, true, false}};
  Placement p = DecideProgressPlacement(dual, Auto(), LocateNic(dual, ifs, "10.0.0.5"),
                                        {0, 1, 2, 3});
  EXPECT_TRUE(p.bind);
  EXPECT_EQ(CpuListText(p.cpus), "2-3");

  HostTopology single = LoadHostTopologyXml(Data("hwloc_1numa_eth0.xml"));
  ASSERT_TRUE(single.loaded) << single.problem;
  p = DecideProgressPlacement(single, Auto(), LocateNic(single, {}, "eth0"), {0, 1});
  EXPECT_FALSE(p.bind);
}

// The real call, on a thread of its own: binding to the CPUs it already
// has always succeeds and leaves its affinity as it was.
TEST(BindTest, BindsAThreadToItsOwnCpus) {
  std::thread t([] {
    const CpuList mine = CurrentThreadCpus();
    ASSERT_FALSE(mine.empty());
    absl::Status s = BindCurrentThread(mine);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(CurrentThreadCpus(), mine);
    // One CPU of them, then an impossible one: a clear error, no crash.
    s = BindCurrentThread({mine.front()});
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(CurrentThreadCpus(), CpuList{mine.front()});
    s = BindCurrentThread({kMaxCpuIndex});
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.message().find("pthread_setaffinity_np(65535)"), std::string::npos) << s;
    EXPECT_FALSE(BindCurrentThread({}).ok());
    // A failed placement is only a warning.
    ApplyProgressPlacement(Placement{true, {kMaxCpuIndex}, "test"});
    EXPECT_EQ(CurrentThreadCpus(), CpuList{mine.front()});
  });
  t.join();
}

// MERIDIAN_PROGRESS_CPUS goes through comm_options: an invalid list fails
// at communicator creation with the variable's name; valid values create.
TEST(ProgressCpusOptionsTest, CheckedAtCommCreate) {
  setenv("MERIDIAN_AUTH_TOKEN", "progress-placement-test-token", 1);
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:29500", 1);
  setenv("MERIDIAN_WORLD_SIZE", "1", 1);
  setenv("MERIDIAN_PROGRESS_CPUS", "0-", 1);
  absl::StatusOr<CommOptions> o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(o.status())) << o.status();
  EXPECT_NE(o.status().message().find("MERIDIAN_PROGRESS_CPUS='0-'"), std::string::npos)
      << o.status();
  setenv("MERIDIAN_PROGRESS_CPUS", "none", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->progress_cpus.mode, ProgressCpus::Mode::kNone);
  unsetenv("MERIDIAN_PROGRESS_CPUS");
  o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->progress_cpus.mode, ProgressCpus::Mode::kAuto);
  unsetenv("MERIDIAN_COORDINATOR");
  unsetenv("MERIDIAN_WORLD_SIZE");

  mdnCoordinator_t coord = nullptr;
  ASSERT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &coord), mdnSuccess) << mdnGetLastError();
  char addr[128];
  ASSERT_EQ(mdnCoordinatorGetAddress(coord, addr, sizeof(addr)), mdnSuccess);
  mdnCommConfig_t cfg = test_util::OneRankConfig(addr);
  setenv("MERIDIAN_PROGRESS_CPUS", "8-2", 1);
  mdnComm_t comm = nullptr;
  EXPECT_NE(mdnCommCreate(&cfg, &comm), mdnSuccess);
  EXPECT_NE(std::string(mdnGetLastError()).find("MERIDIAN_PROGRESS_CPUS='8-2'"),
            std::string::npos)
      << mdnGetLastError();
  // This machine's own CPUs, auto and none: created, and an operation runs
  // on the (possibly bound) progress thread.
  const std::string own = CpuListText(CurrentThreadCpus());
  for (const std::string& v : {own, std::string("auto"), std::string("none")}) {
    SCOPED_TRACE(v);
    setenv("MERIDIAN_PROGRESS_CPUS", v.c_str(), 1);
    comm = nullptr;
    ASSERT_EQ(mdnCommCreate(&cfg, &comm), mdnSuccess) << mdnGetLastError();
    float x = 3;
    EXPECT_EQ(mdnAllReduce(comm, &x, &x, 1, mdnFloat32, mdnSum), mdnSuccess)
        << mdnCommGetLastError(comm);
    EXPECT_EQ(x, 3);
    mdnCommDestroy(comm);
  }
  unsetenv("MERIDIAN_PROGRESS_CPUS");
  mdnCoordinatorDestroy(coord);
}

}  // namespace
}  // namespace meridian::runtime
