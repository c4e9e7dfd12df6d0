// What this host looks like to the runtime: NUMA nodes and their CPUs, the
// I/O devices (NICs, RDMA devices, GPUs) hwloc sees and which NUMA nodes /
// CPUs each is local to, and the network interfaces with their addresses
// (getifaddrs).  Plain structs, so the decisions built on them
// (socket_ifname.h, progress_placement.h) are pure functions that tests feed
// hand-made or XML-loaded topologies.
//
// hwloc is optional at build time (MERIDIAN_HAVE_HWLOC): without it the
// topology is never `loaded`, `problem` says why, and callers fall back to
// decisions that need no locality.
#ifndef MERIDIAN_RUNTIME_SRC_HOST_TOPOLOGY_H_
#define MERIDIAN_RUNTIME_SRC_HOST_TOPOLOGY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "runtime/src/cpu_list.h"

namespace meridian::runtime {

struct HostNumaNode {
  int os_index = 0;
  CpuList cpus;
  uint64_t memory_bytes = 0;
};

// An hwloc OS device of the kinds that matter for placement.
struct HostDevice {
  std::string name;   // OS name: eth0, mlx5_0, cuda0, card1
  std::string kind;   // network, openfabrics, gpu, coprocessor
  std::string pci;    // "0000:3b:00.0", empty when not on PCI
  std::string model;  // what hwloc knows of the model, may be empty
  // Locality: the nodeset and cpuset of the device's first non-I/O
  // ancestor (the package or NUMA group its PCI bus hangs off).  Empty when
  // hwloc could not tell.
  CpuList numa_nodes;
  CpuList cpus;
};

struct HostTopology {
  bool loaded = false;
  std::string source;   // e.g. "hwloc API 2.8.0"
  std::string problem;  // why loaded is false
  int packages = 0;
  int cores = 0;
  int pus = 0;
  std::vector<HostNumaNode> numa;
  std::vector<HostDevice> devices;

  // The device named `name` of kind `kind` ("" = any kind), or nullptr.
  const HostDevice* Device(absl::string_view name, absl::string_view kind = "") const;
};

// True when built with hwloc.
bool HaveHwloc();

// This machine, as hwloc sees it (I/O devices included).  Tens of
// milliseconds: callers that need it more than once use ThisHostTopology.
// `device_libraries`: let hwloc's plugins ask the GPU and display libraries
// (OpenCL, CUDA, NVML, ROCm SMI, Level Zero, GL) for devices, as
// meridian-info does to name GPUs; false sees NICs, RDMA devices and GPUs
// from sysfs alone.
HostTopology LoadHostTopology(bool device_libraries = true);
// A topology exported by `lstopo --of xml` or written by hand (tests).
HostTopology LoadHostTopologyXml(const std::string& path);
// LoadHostTopology(false), once per process: hardware does not change under
// a running job, and every communicator a process creates asks.  Without
// the device libraries, because creating a communicator must not start a
// GPU runtime or open an X display behind the application's back, and
// placement needs only the NICs.
const HostTopology& ThisHostTopology();

struct NetInterface {
  std::string name;
  std::vector<std::string> addresses;  // IPv4 and IPv6, as text
  std::vector<std::string> ipv4;       // the IPv4 ones (advertisable)
  bool up = false;
  bool loopback = false;
};

// The hwloc network device behind interface `interface` (an alias such as
// "eth0:1" maps to eth0), or nullptr.
const HostDevice* NetworkDevice(const HostTopology& topo, absl::string_view interface);

// Every interface getifaddrs lists, in its order, each name once.
std::vector<NetInterface> ListNetInterfaces();

// The interface that holds `address` (numeric IPv4 or IPv6), or nullptr.
const NetInterface* InterfaceWithAddress(const std::vector<NetInterface>& interfaces,
                                         absl::string_view address);

// Where a network interface sits: `name_or_address` is an interface name
// ("eth1") or one of this host's addresses ("10.0.0.5").  `device` is the
// hwloc network device of that name (nullptr when hwloc does not see it:
// loopback, bridges, veth, tunnels, or no hwloc), whose numa_nodes and cpus
// say what the interface is local to.
struct NicLocality {
  std::string interface;  // empty when name_or_address matches nothing
  const HostDevice* device = nullptr;
};
NicLocality LocateNic(const HostTopology& topo, const std::vector<NetInterface>& interfaces,
                      absl::string_view name_or_address);

// Every interface with its hwloc device (nullptr: no locality known), in
// `interfaces` order: the host's NICs, their addresses and NUMA nodes.
struct HostNic {
  NetInterface interface;
  const HostDevice* device = nullptr;
};
std::vector<HostNic> ListHostNics(const HostTopology& topo,
                                  const std::vector<NetInterface>& interfaces);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_HOST_TOPOLOGY_H_
