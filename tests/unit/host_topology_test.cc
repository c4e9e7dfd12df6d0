// The host view the runtime places by: NICs and their NUMA locality from a
// hand-written hwloc XML topology (tests/data), interfaces and addresses
// from getifaddrs, and the CPU-list text shared with meridian-info.
#include "runtime/src/host_topology.h"

#include <string>

#include "gtest/gtest.h"
#include "runtime/src/cpu_list.h"

namespace meridian::runtime {
namespace {

std::string Data(const char* name) { return std::string(MERIDIAN_TEST_DATA_DIR "/") + name; }

// Interfaces as getifaddrs would list them on the XML's machine.
std::vector<NetInterface> XmlHostInterfaces() {
  return {
      NetInterface{"lo", {"127.0.0.1", "::1"}, {"127.0.0.1"}, true, true},
      NetInterface{"eth0", {"192.168.1.5"}, {"192.168.1.5"}, true, false},
      NetInterface{"eth1", {"10.0.0.5", "fd00::5"}, {"10.0.0.5"}, true, false},
      NetInterface{"eth1:1", {"10.0.1.5"}, {"10.0.1.5"}, true, false},
      NetInterface{"docker0", {"172.17.0.1"}, {"172.17.0.1"}, true, false},
  };
}

class XmlTopologyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!HaveHwloc()) GTEST_SKIP() << "built without hwloc";
    topo_ = LoadHostTopologyXml(Data("hwloc_2numa_eth1.xml"));
    ASSERT_TRUE(topo_.loaded) << topo_.problem;
  }
  HostTopology topo_;
};

TEST_F(XmlTopologyTest, NumaNodesAndCores) {
  ASSERT_EQ(topo_.numa.size(), 2u);
  EXPECT_EQ(topo_.numa[0].os_index, 0);
  EXPECT_EQ(topo_.numa[0].cpus, (CpuList{0, 1}));
  EXPECT_EQ(topo_.numa[1].os_index, 1);
  EXPECT_EQ(topo_.numa[1].cpus, (CpuList{2, 3}));
  EXPECT_EQ(topo_.numa[1].memory_bytes, uint64_t{8} << 30);
  EXPECT_EQ(topo_.packages, 2);
  EXPECT_EQ(topo_.cores, 4);
  EXPECT_EQ(topo_.pus, 4);
}

TEST_F(XmlTopologyTest, NicIsLocalToItsPackagesNumaNode) {
  const HostDevice* eth1 = topo_.Device("eth1", "network");
  ASSERT_NE(eth1, nullptr);
  EXPECT_EQ(eth1->pci, "0000:40:00.0");
  EXPECT_EQ(eth1->numa_nodes, (CpuList{1}));
  EXPECT_EQ(eth1->cpus, (CpuList{2, 3}));
  const HostDevice* eth0 = topo_.Device("eth0", "network");
  ASSERT_NE(eth0, nullptr);
  EXPECT_EQ(eth0->numa_nodes, (CpuList{0}));
  EXPECT_EQ(eth0->cpus, (CpuList{0, 1}));
  // The RDMA device is listed (meridian-info shows it) but is no network
  // interface.
  ASSERT_NE(topo_.Device("mlx5_0"), nullptr);
  EXPECT_EQ(topo_.Device("mlx5_0")->kind, "openfabrics");
  EXPECT_EQ(topo_.Device("mlx5_0", "network"), nullptr);
}

TEST_F(XmlTopologyTest, LocateByNameOrAddress) {
  const std::vector<NetInterface> ifs = XmlHostInterfaces();
  for (const char* key : {"eth1", "10.0.0.5", "fd00::5"}) {
    SCOPED_TRACE(key);
    NicLocality n = LocateNic(topo_, ifs, key);
    EXPECT_EQ(n.interface, "eth1");
    ASSERT_NE(n.device, nullptr);
    EXPECT_EQ(n.device->numa_nodes, (CpuList{1}));
    EXPECT_EQ(n.device->cpus, (CpuList{2, 3}));
  }
  // An IPv4 alias is its device's.
  NicLocality alias = LocateNic(topo_, ifs, "10.0.1.5");
  EXPECT_EQ(alias.interface, "eth1:1");
  ASSERT_NE(alias.device, nullptr);
  EXPECT_EQ(alias.device->name, "eth1");
  // Virtual interfaces have no locality; unknown keys no interface.
  for (const char* key : {"lo", "127.0.0.1", "docker0"}) {
    SCOPED_TRACE(key);
    NicLocality n = LocateNic(topo_, ifs, key);
    EXPECT_FALSE(n.interface.empty());
    EXPECT_EQ(n.device, nullptr);
  }
  NicLocality none = LocateNic(topo_, ifs, "10.9.9.9");
  EXPECT_TRUE(none.interface.empty());
  EXPECT_EQ(none.device, nullptr);
  // A name only hwloc knows (no getifaddrs entry) still has its locality.
  NicLocality only_hwloc = LocateNic(topo_, {}, "eth1");
  EXPECT_EQ(only_hwloc.interface, "eth1");
  EXPECT_NE(only_hwloc.device, nullptr);
}

TEST_F(XmlTopologyTest, HostNicListPairsInterfacesWithDevices) {
  std::vector<HostNic> nics = ListHostNics(topo_, XmlHostInterfaces());
  ASSERT_EQ(nics.size(), 5u);
  EXPECT_EQ(nics[0].interface.name, "lo");
  EXPECT_EQ(nics[0].device, nullptr);
  EXPECT_EQ(nics[2].interface.name, "eth1");
  ASSERT_NE(nics[2].device, nullptr);
  EXPECT_EQ(CpuListText(nics[2].device->numa_nodes), "1");
  EXPECT_EQ(nics[2].interface.addresses[0], "10.0.0.5");
}

TEST(HostTopologyTest, XmlErrorsAndSingleNode) {
  if (!HaveHwloc()) {
    HostTopology t = LoadHostTopologyXml(Data("hwloc_1numa_eth0.xml"));
    EXPECT_FALSE(t.loaded);
    EXPECT_NE(t.problem.find("without hwloc"), std::string::npos) << t.problem;
    GTEST_SKIP() << "built without hwloc";
  }
  HostTopology missing = LoadHostTopologyXml(Data("no_such_topology.xml"));
  EXPECT_FALSE(missing.loaded);
  EXPECT_NE(missing.problem.find("no_such_topology.xml"), std::string::npos) << missing.problem;

  HostTopology one = LoadHostTopologyXml(Data("hwloc_1numa_eth0.xml"));
  ASSERT_TRUE(one.loaded) << one.problem;
  ASSERT_EQ(one.numa.size(), 1u);
  ASSERT_NE(one.Device("eth0", "network"), nullptr);
  EXPECT_EQ(one.Device("eth0", "network")->cpus, (CpuList{0, 1}));
}

TEST(HostTopologyTest, ThisHost) {
  // Whatever this machine is: loaded with at least one NUMA node and PU
  // when hwloc is there, the reason otherwise; loopback is listed.
  const HostTopology& t = ThisHostTopology();
  EXPECT_EQ(&t, &ThisHostTopology());  // loaded once
  if (HaveHwloc()) {
    ASSERT_TRUE(t.loaded) << t.problem;
    EXPECT_GE(t.numa.size(), 1u);
    EXPECT_GE(t.pus, 1);
  } else {
    EXPECT_FALSE(t.loaded);
    EXPECT_FALSE(t.problem.empty());
  }
  std::vector<NetInterface> ifs = ListNetInterfaces();
  const NetInterface* lo = InterfaceWithAddress(ifs, "127.0.0.1");
  ASSERT_NE(lo, nullptr);
  EXPECT_TRUE(lo->loopback);
  EXPECT_EQ(lo->ipv4.front(), "127.0.0.1");
}

}  // namespace
}  // namespace meridian::runtime
