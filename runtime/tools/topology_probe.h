// What meridian-info reports about this machine: the hwloc view (NUMA
// nodes, packages, cores, PUs, I/O devices and where they attach) and the
// network interfaces with their addresses.  Without hwloc at build time,
// only the interfaces are known and the report says why.
//
// The probing itself is the runtime's (runtime/src/host_topology.h), so the
// tool shows exactly the locality the runtime places threads by; this is
// the tool's text view of it (lists as "0-3,8").
#ifndef MERIDIAN_RUNTIME_TOOLS_TOPOLOGY_PROBE_H_
#define MERIDIAN_RUNTIME_TOOLS_TOPOLOGY_PROBE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::tools {

// Where a device sits: the NUMA nodes and PUs closest to it, as hwloc
// list strings ("0-3,8").  Empty when unknown.
struct Locality {
  std::string numa_nodes;
  std::string pus;
};

struct NumaNode {
  unsigned index = 0;
  std::string pus;
  uint64_t memory_bytes = 0;
};

struct IoDevice {
  std::string name;   // OS name: eth0, mlx5_0, cuda0, card1
  std::string kind;   // network, openfabrics, gpu, coprocessor
  std::string pci;    // "0000:3b:00.0", empty when not on PCI
  std::string model;  // what hwloc knows of the model, may be empty
  Locality locality;
};

struct Topology {
  bool probed = false;
  std::string source;   // e.g. "hwloc API 2.8.0"
  std::string problem;  // why probed is false
  int numa_nodes = 0;
  int packages = 0;
  int cores = 0;
  int pus = 0;
  std::vector<NumaNode> numa;
  std::vector<IoDevice> devices;
};

struct NetInterface {
  std::string name;
  std::vector<std::string> addresses;  // IPv4 and IPv6, as text
  bool up = false;
  bool loopback = false;
};

Topology ProbeTopology();
std::vector<NetInterface> ProbeInterfaces();

}  // namespace meridian::tools

#endif  // MERIDIAN_RUNTIME_TOOLS_TOPOLOGY_PROBE_H_
