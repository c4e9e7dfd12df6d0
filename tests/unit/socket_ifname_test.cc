// Which address a communicator advertises when none is configured:
// MERIDIAN_SOCKET_IFNAME with NCCL_SOCKET_IFNAME's syntax, the default
// choice (route to the coordinator, physical NICs, never loopback while
// something else exists), and the errors that name what exists.
#include "runtime/src/socket_ifname.h"

#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "meridian.h"
#include "runtime/src/comm_options.h"
#include "tests/unit/comm_group.h"

namespace meridian::runtime {
namespace {

std::string Data(const char* name) { return std::string(MERIDIAN_TEST_DATA_DIR "/") + name; }

NetInterface If(const char* name, std::vector<std::string> ipv4, bool up = true,
                bool loopback = false) {
  return NetInterface{name, ipv4, ipv4, up, loopback};
}

IfnameFilter Filter(const char* text) {
  absl::StatusOr<IfnameFilter> f = ParseIfnameFilter(text);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() ? *f : IfnameFilter{};
}

// A topology in which eth1 (not eth0) is a PCI NIC, without hwloc.
HostTopology Eth1IsPhysical() {
  HostTopology t;
  t.loaded = true;
  t.numa = {HostNumaNode{0, {0, 1}, 0}};
  t.devices = {HostDevice{"eth1", "network", "0000:40:00.0", "", {0}, {0, 1}}};
  return t;
}

TEST(IfnameFilterTest, PrefixExactAndExclude) {
  IfnameFilter prefix = Filter("eth,ib");
  EXPECT_FALSE(prefix.exclude);
  EXPECT_FALSE(prefix.exact);
  EXPECT_EQ(prefix.names, (std::vector<std::string>{"eth", "ib"}));
  EXPECT_TRUE(prefix.Selects("eth0"));
  EXPECT_TRUE(prefix.Selects("eth10"));
  EXPECT_TRUE(prefix.Selects("ib0"));
  EXPECT_FALSE(prefix.Selects("ens3"));
  EXPECT_FALSE(prefix.Selects("lo"));

  IfnameFilter exact = Filter("=eth1");
  EXPECT_TRUE(exact.exact);
  EXPECT_TRUE(exact.Selects("eth1"));
  EXPECT_FALSE(exact.Selects("eth10"));
  EXPECT_FALSE(exact.Selects("eth"));

  IfnameFilter exclude = Filter("^docker,lo");
  EXPECT_TRUE(exclude.exclude);
  EXPECT_FALSE(exclude.Selects("docker0"));
  EXPECT_FALSE(exclude.Selects("lo"));
  EXPECT_TRUE(exclude.Selects("eth0"));

  IfnameFilter exclude_exact = Filter("^=eth1");
  EXPECT_TRUE(exclude_exact.exclude);
  EXPECT_TRUE(exclude_exact.exact);
  EXPECT_FALSE(exclude_exact.Selects("eth1"));
  EXPECT_TRUE(exclude_exact.Selects("eth10"));
  EXPECT_TRUE(exclude_exact.Selects("eth0"));

  EXPECT_EQ(Filter(" eth0 , ens ").names, (std::vector<std::string>{"eth0", "ens"}));
}

TEST(IfnameFilterTest, ListsNamingNothingAreErrors) {
  for (const char* text : {"", "^", "=", "^=", "eth0,,ens", "eth0,"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<IfnameFilter> f = ParseIfnameFilter(text);
    ASSERT_FALSE(f.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(f.status())) << f.status();
    EXPECT_NE(f.status().message().find("MERIDIAN_SOCKET_IFNAME"), std::string::npos)
        << f.status();
  }
}

TEST(ChooseInterfaceTest, FilterPicksSelectedInterface) {
  const std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true),
                                         If("eth0", {"192.168.1.5"}),
                                         If("eth1", {"10.0.0.5"}),
                                         If("ens3", {"172.16.0.5"})};
  const HostTopology none;
  IfnameFilter exact = Filter("=eth1");
  absl::StatusOr<InterfaceChoice> c = ChooseInterface(ifs, none, &exact, "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth1");
  EXPECT_EQ(c->address, "10.0.0.5");
  EXPECT_NE(c->why.find("MERIDIAN_SOCKET_IFNAME"), std::string::npos) << c->why;

  IfnameFilter prefix = Filter("ens");
  c = ChooseInterface(ifs, none, &prefix, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "ens3");

  // Excluding eth and lo leaves ens3, even though eth0 reaches the
  // coordinator.
  IfnameFilter exclude = Filter("^eth,lo");
  c = ChooseInterface(ifs, none, &exclude, "192.168.1.5");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "ens3");

  // Among several selected, the one reaching the coordinator wins...
  IfnameFilter eth = Filter("eth");
  c = ChooseInterface(ifs, none, &eth, "10.0.0.5");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth1");
  // ...then physical NICs, then getifaddrs order.
  c = ChooseInterface(ifs, Eth1IsPhysical(), &eth, "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth1");
  c = ChooseInterface(ifs, none, &eth, "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth0");

  // Asking for loopback alone gets loopback; leaving it in does not.
  IfnameFilter lo = Filter("=lo");
  c = ChooseInterface(ifs, none, &lo, "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "127.0.0.1");
  IfnameFilter not_docker = Filter("^docker");
  c = ChooseInterface(ifs, none, &not_docker, "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth0");
}

TEST(ChooseInterfaceTest, FilterMatchingNothingNamesVariableAndInterfaces) {
  const std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true),
                                         If("eth0", {"192.168.1.5"}),
                                         If("eth1", {}, true),               // no IPv4
                                         If("eth2", {"10.0.2.5"}, false)};  // down
  for (const char* text : {"=eth", "ib", "eth1", "eth2", "^eth0,lo"}) {
    SCOPED_TRACE(text);
    IfnameFilter f = Filter(text);
    absl::StatusOr<InterfaceChoice> c = ChooseInterface(ifs, HostTopology{}, &f, "");
    ASSERT_FALSE(c.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(c.status())) << c.status();
    const std::string msg(c.status().message());
    EXPECT_NE(msg.find(std::string("MERIDIAN_SOCKET_IFNAME='") + text + "'"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("lo (up, loopback, 127.0.0.1)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("eth0 (up, 192.168.1.5)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("eth1 (up, no IPv4 address)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("eth2 (down, 10.0.2.5)"), std::string::npos) << msg;
  }
}

TEST(ChooseInterfaceTest, DefaultPrefersTheRouteToTheCoordinator) {
  const std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true),
                                         If("eth0", {"192.168.1.5"}),
                                         If("eth1", {"10.0.0.5", "10.0.0.6"})};
  // The route's interface and, of its addresses, the route's own.
  absl::StatusOr<InterfaceChoice> c = ChooseInterface(ifs, Eth1IsPhysical(), nullptr, "10.0.0.6");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth1");
  EXPECT_EQ(c->address, "10.0.0.6");
  EXPECT_NE(c->why.find("reaches the coordinator"), std::string::npos) << c->why;
  // Even over a physical NIC elsewhere: routing knows best.
  c = ChooseInterface(ifs, Eth1IsPhysical(), nullptr, "192.168.1.5");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth0");
}

TEST(ChooseInterfaceTest, DefaultOverLoopbackRouteStaysOnLoopback) {
  const std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true),
                                         If("eth0", {"192.168.1.5"})};
  // A coordinator named 127.0.0.1 (or localhost): every peer is on this
  // host, and the data port stays off the network.
  absl::StatusOr<InterfaceChoice> c =
      ChooseInterface(ifs, HostTopology{}, nullptr, "127.0.0.1", /*coordinator_is_loopback=*/true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "lo");
  EXPECT_EQ(c->address, "127.0.0.1");
  EXPECT_NE(c->why.find("loopback"), std::string::npos) << c->why;
  // A filter still decides: "eth" takes eth0.
  const IfnameFilter eth = Filter("eth");
  c = ChooseInterface(ifs, HostTopology{}, &eth, "127.0.0.1", true);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth0");
  // Merely reached over loopback (a name resolving to 127.0.1.1 here):
  // other hosts may be in the group, so not loopback.
  c = ChooseInterface(ifs, HostTopology{}, nullptr, "127.0.0.1", false);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth0");
}

TEST(ChooseInterfaceTest, LoopbackHostNames) {
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("coordinator.example"));
  EXPECT_FALSE(IsLoopbackHost(""));
}

TEST(ChooseInterfaceTest, DefaultWithoutRouteTakesFirstNonLoopbackPhysicalFirst) {
  const std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true),
                                         If("docker0", {"172.17.0.1"}),
                                         If("eth0", {"192.168.1.5"}),
                                         If("eth1", {"10.0.0.5"}),
                                         If("eth2", {"10.0.2.5"}, false)};
  // No locality known: first non-loopback, container bridges last.
  absl::StatusOr<InterfaceChoice> c = ChooseInterface(ifs, HostTopology{}, nullptr, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth0");
  EXPECT_EQ(c->address, "192.168.1.5");
  // hwloc says eth1 is a PCI NIC: it goes first.
  c = ChooseInterface(ifs, Eth1IsPhysical(), nullptr, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth1");
  EXPECT_NE(c->why.find("physical NIC"), std::string::npos) << c->why;
  // Only a container bridge besides loopback: the bridge.
  c = ChooseInterface({ifs[0], ifs[1]}, HostTopology{}, nullptr, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "docker0");
}

TEST(ChooseInterfaceTest, LoopbackOnlyWhenNothingElse) {
  std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true), If("eth0", {}, true),
                                   If("eth1", {"10.0.0.5"}, false)};
  absl::StatusOr<InterfaceChoice> c = ChooseInterface(ifs, HostTopology{}, nullptr, "");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "lo");
  EXPECT_EQ(c->address, "127.0.0.1");
  EXPECT_NE(c->why.find("no other interface"), std::string::npos) << c->why;

  // Nothing with IPv4 at all: the route's address (the old default), or an
  // error saying what to set.
  ifs = {If("eth0", {}, true)};
  c = ChooseInterface(ifs, HostTopology{}, nullptr, "10.1.1.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->address, "10.1.1.1");
  c = ChooseInterface(ifs, HostTopology{}, nullptr, "");
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(c.status())) << c.status();
  EXPECT_NE(c.status().message().find("MERIDIAN_ADVERTISE_ADDR"), std::string::npos);
}

TEST(ChooseInterfaceTest, PhysicalNicsFromXmlTopology) {
  if (!HaveHwloc()) GTEST_SKIP() << "built without hwloc";
  HostTopology topo = LoadHostTopologyXml(Data("hwloc_2numa_eth1.xml"));
  ASSERT_TRUE(topo.loaded) << topo.problem;
  // eth9 is first but hwloc lists only eth0 and eth1 as NICs.
  const std::vector<NetInterface> ifs = {If("lo", {"127.0.0.1"}, true, true),
                                         If("eth9", {"172.20.0.1"}),
                                         If("eth1", {"10.0.0.5"})};
  absl::StatusOr<InterfaceChoice> c = ChooseInterface(ifs, topo, nullptr, "127.0.0.1");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->interface, "eth1");
}

// The variable is checked when options are resolved, before any network
// work, with the comm_options conventions.
TEST(SocketIfnameOptionsTest, ResolvedWithCommOptions) {
  setenv("MERIDIAN_COORDINATOR", "127.0.0.1:29500", 1);
  setenv("MERIDIAN_WORLD_SIZE", "2", 1);
  setenv("MERIDIAN_AUTH_TOKEN", "socket-ifname-test-token", 1);
  unsetenv("MERIDIAN_SOCKET_IFNAME");
  absl::StatusOr<CommOptions> o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_FALSE(o->socket_ifname.has_value());

  setenv("MERIDIAN_SOCKET_IFNAME", "^=docker0", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_TRUE(o->socket_ifname.has_value());
  EXPECT_TRUE(o->socket_ifname->exclude);
  EXPECT_TRUE(o->socket_ifname->exact);

  setenv("MERIDIAN_SOCKET_IFNAME", "^", 1);
  o = ResolveCommOptions(nullptr);
  ASSERT_FALSE(o.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(o.status())) << o.status();
  EXPECT_NE(o.status().message().find("MERIDIAN_SOCKET_IFNAME"), std::string::npos);
  unsetenv("MERIDIAN_SOCKET_IFNAME");
}

// End to end through the C API: a filter that matches nothing fails
// mdnCommCreate with the message; one that selects loopback works.
TEST(SocketIfnameOptionsTest, CommCreateUsesTheFilter) {
  setenv("MERIDIAN_AUTH_TOKEN", "socket-ifname-test-token", 1);
  mdnCoordinator_t coord = nullptr;
  ASSERT_EQ(mdnCoordinatorCreate("127.0.0.1:0", &coord), mdnSuccess) << mdnGetLastError();
  char addr[128];
  ASSERT_EQ(mdnCoordinatorGetAddress(coord, addr, sizeof(addr)), mdnSuccess);
  mdnCommConfig_t cfg = test_util::OneRankConfig(addr);

  setenv("MERIDIAN_SOCKET_IFNAME", "=no-such-interface0", 1);
  mdnComm_t comm = nullptr;
  EXPECT_NE(mdnCommCreate(&cfg, &comm), mdnSuccess);
  const std::string err = mdnGetLastError();
  EXPECT_NE(err.find("MERIDIAN_SOCKET_IFNAME='=no-such-interface0'"), std::string::npos) << err;
  EXPECT_NE(err.find("lo (up, loopback, 127.0.0.1)"), std::string::npos) << err;

  setenv("MERIDIAN_SOCKET_IFNAME", "=lo", 1);
  comm = nullptr;
  ASSERT_EQ(mdnCommCreate(&cfg, &comm), mdnSuccess) << mdnGetLastError();
  float x = 2;
  EXPECT_EQ(mdnAllReduce(comm, &x, &x, 1, mdnFloat32, mdnSum), mdnSuccess)
      << mdnCommGetLastError(comm);
  EXPECT_EQ(x, 2);
  mdnCommDestroy(comm);
  mdnCoordinatorDestroy(coord);
  unsetenv("MERIDIAN_SOCKET_IFNAME");
}

}  // namespace
}  // namespace meridian::runtime
