#include "runtime/tools/topology_probe.h"

#include "runtime/src/host_topology.h"

namespace meridian::tools {

Topology ProbeTopology() {
  const runtime::HostTopology h = runtime::LoadHostTopology();
  Topology t;
  t.probed = h.loaded;
  t.source = h.source;
  t.problem = h.problem;
  t.numa_nodes = static_cast<int>(h.numa.size());
  t.packages = h.packages;
  t.cores = h.cores;
  t.pus = h.pus;
  for (const runtime::HostNumaNode& n : h.numa) {
    t.numa.push_back(NumaNode{static_cast<unsigned>(n.os_index), runtime::CpuListText(n.cpus),
                              n.memory_bytes});
  }
  for (const runtime::HostDevice& d : h.devices) {
    t.devices.push_back(IoDevice{d.name, d.kind, d.pci, d.model,
                                 Locality{runtime::CpuListText(d.numa_nodes),
                                          runtime::CpuListText(d.cpus)}});
  }
  return t;
}

std::vector<NetInterface> ProbeInterfaces() {
  std::vector<NetInterface> out;
  for (const runtime::NetInterface& n : runtime::ListNetInterfaces()) {
    out.push_back(NetInterface{n.name, n.addresses, n.up, n.loopback});
  }
  return out;
}

}  // namespace meridian::tools
