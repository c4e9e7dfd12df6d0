#include "runtime/src/host_topology.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#ifdef MERIDIAN_HAVE_HWLOC
#include <hwloc.h>
#endif

namespace meridian::runtime {

const HostDevice* HostTopology::Device(absl::string_view name, absl::string_view kind) const {
  for (const HostDevice& d : devices) {
    if (d.name == name && (kind.empty() || d.kind == kind)) return &d;
  }
  return nullptr;
}

#ifdef MERIDIAN_HAVE_HWLOC
namespace {

CpuList ToList(hwloc_const_bitmap_t set) {
  CpuList out;
  // An infinite set (never seen in a loaded topology's cpusets) would not
  // terminate the walk; treat it as unknown.
  if (set == nullptr || hwloc_bitmap_weight(set) < 0) return out;
  for (int i = hwloc_bitmap_first(set); i >= 0; i = hwloc_bitmap_next(set, i)) {
    out.push_back(i);
  }
  return out;
}

const char* KindOf(hwloc_obj_osdev_type_t type) {
  switch (type) {
    case HWLOC_OBJ_OSDEV_NETWORK:
      return "network";
    case HWLOC_OBJ_OSDEV_OPENFABRICS:
      return "openfabrics";
    case HWLOC_OBJ_OSDEV_GPU:
      return "gpu";
    case HWLOC_OBJ_OSDEV_COPROC:
      return "coprocessor";
    default:
      return nullptr;  // block and DMA devices do not matter here
  }
}

int Count(hwloc_topology_t topo, hwloc_obj_type_t type) {
  return std::max(0, hwloc_get_nbobjs_by_type(topo, type));
}

HostDevice DescribeOsDevice(hwloc_topology_t topo, hwloc_obj_t obj, const char* kind) {
  HostDevice d;
  d.name = obj->name != nullptr ? obj->name : "";
  d.kind = kind;
  for (hwloc_obj_t p = obj->parent; p != nullptr; p = p->parent) {
    if (p->type == HWLOC_OBJ_PCI_DEVICE) {
      const auto& pci = p->attr->pcidev;
      d.pci = absl::StrFormat("%04x:%02x:%02x.%01x", pci.domain, pci.bus, pci.dev, pci.func);
      if (p->name != nullptr) d.model = p->name;
      break;
    }
  }
  for (const char* info : {"GPUModel", "CoProcType"}) {
    const char* v = hwloc_obj_get_info_by_name(obj, info);
    if (v != nullptr && d.model.empty()) d.model = v;
  }
  // I/O objects have no cpuset of their own: what they are local to is the
  // first ordinary object above their PCI bus.
  hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(topo, obj);
  if (anchor != nullptr) {
    d.cpus = ToList(anchor->cpuset);
    d.numa_nodes = ToList(anchor->nodeset);
  }
  return d;
}

// Loads `topo` (already initialised, source set) and fills a HostTopology;
// destroys `topo` in every case.
HostTopology Load(hwloc_topology_t topo) {
  HostTopology t;
  unsigned api = hwloc_get_api_version();
  t.source = absl::StrCat("hwloc API ", api >> 16, ".", (api >> 8) & 0xff, ".", api & 0xff);
  // I/O objects are filtered out by default; without them there are no
  // NICs or GPUs to place.
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (hwloc_topology_load(topo) != 0) {
    t.problem = "hwloc_topology_load failed";
    hwloc_topology_destroy(topo);
    return t;
  }
  t.loaded = true;
  t.packages = Count(topo, HWLOC_OBJ_PACKAGE);
  t.cores = Count(topo, HWLOC_OBJ_CORE);
  t.pus = Count(topo, HWLOC_OBJ_PU);
  const int nodes = Count(topo, HWLOC_OBJ_NUMANODE);
  for (int i = 0; i < nodes; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
    if (node == nullptr) continue;
    HostNumaNode n;
    n.os_index = static_cast<int>(node->os_index);
    n.cpus = ToList(node->cpuset);
    n.memory_bytes = node->attr != nullptr ? node->attr->numanode.local_memory : 0;
    t.numa.push_back(n);
  }
  for (hwloc_obj_t obj = hwloc_get_next_osdev(topo, nullptr); obj != nullptr;
       obj = hwloc_get_next_osdev(topo, obj)) {
    const char* kind = KindOf(obj->attr->osdev.type);
    if (kind != nullptr) t.devices.push_back(DescribeOsDevice(topo, obj, kind));
  }
  hwloc_topology_destroy(topo);
  return t;
}

}  // namespace

bool HaveHwloc() { return true; }

HostTopology LoadHostTopology(bool device_libraries) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) {
    HostTopology t;
    t.problem = "hwloc_topology_init failed";
    return t;
  }
  // hwloc's "pci" plugin goes through libpciaccess, whose state is never
  // freed (LeakSanitizer reports it in every process that loads the
  // topology); the linux component reads the same PCI devices, NIC
  // addresses and locality from sysfs (meridian-info prints the same
  // without it).
  hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
  if (!device_libraries) {
    // Components that are absent (no plugin installed) are ignored.
    for (const char* c : {"opencl", "cuda", "nvml", "rsmi", "levelzero", "gl"}) {
      hwloc_topology_set_components(topo, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, c);
    }
  }
  return Load(topo);
}

HostTopology LoadHostTopologyXml(const std::string& path) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) {
    HostTopology t;
    t.problem = "hwloc_topology_init failed";
    return t;
  }
  if (hwloc_topology_set_xml(topo, path.c_str()) != 0) {
    hwloc_topology_destroy(topo);
    HostTopology t;
    t.problem = absl::StrCat("hwloc cannot read XML topology ", path);
    return t;
  }
  HostTopology t = Load(topo);
  if (!t.loaded) t.problem = absl::StrCat(t.problem, " (XML ", path, ")");
  return t;
}

#else  // !MERIDIAN_HAVE_HWLOC

namespace {
HostTopology Unavailable() {
  HostTopology t;
  t.problem = "built without hwloc (install libhwloc-dev and reconfigure)";
  return t;
}
}  // namespace

bool HaveHwloc() { return false; }
HostTopology LoadHostTopology(bool) { return Unavailable(); }
HostTopology LoadHostTopologyXml(const std::string&) { return Unavailable(); }

#endif

const HostTopology& ThisHostTopology() {
  static const HostTopology* topo = new HostTopology(LoadHostTopology(false));
  return *topo;
}

const HostDevice* NetworkDevice(const HostTopology& topo, absl::string_view interface) {
  // getifaddrs names an IPv4 alias "eth0:1"; hwloc knows the device eth0.
  return topo.Device(interface.substr(0, interface.find(':')), "network");
}

std::vector<NetInterface> ListNetInterfaces() {
  std::vector<NetInterface> out;
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (struct ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == nullptr) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const NetInterface& n) { return n.name == ifa->ifa_name; });
    if (it == out.end()) {
      out.push_back(NetInterface{ifa->ifa_name, {}, {}, false, false});
      it = out.end() - 1;
    }
    it->up = it->up || (ifa->ifa_flags & IFF_UP) != 0;
    it->loopback = it->loopback || (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    if (ifa->ifa_addr == nullptr) continue;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (ifa->ifa_addr->sa_family == AF_INET) {
      auto* in = reinterpret_cast<struct sockaddr_in*>(ifa->ifa_addr);
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
      it->ipv4.emplace_back(buf);
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      auto* in6 = reinterpret_cast<struct sockaddr_in6*>(ifa->ifa_addr);
      inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
    } else {
      continue;
    }
    it->addresses.emplace_back(buf);
  }
  freeifaddrs(list);
  return out;
}

const NetInterface* InterfaceWithAddress(const std::vector<NetInterface>& interfaces,
                                         absl::string_view address) {
  for (const NetInterface& n : interfaces) {
    for (const std::string& a : n.addresses) {
      if (a == address) return &n;
    }
  }
  return nullptr;
}

NicLocality LocateNic(const HostTopology& topo, const std::vector<NetInterface>& interfaces,
                      absl::string_view name_or_address) {
  NicLocality out;
  const NetInterface* by_addr = InterfaceWithAddress(interfaces, name_or_address);
  if (by_addr != nullptr) {
    out.interface = by_addr->name;
  } else {
    for (const NetInterface& n : interfaces) {
      if (n.name == name_or_address) out.interface = n.name;
    }
    // A name hwloc knows but getifaddrs does not list (a topology from
    // another machine, as in tests) still has a locality.
    if (out.interface.empty() && topo.Device(name_or_address, "network") != nullptr) {
      out.interface = std::string(name_or_address);
    }
  }
  if (!out.interface.empty()) out.device = NetworkDevice(topo, out.interface);
  return out;
}

std::vector<HostNic> ListHostNics(const HostTopology& topo,
                                  const std::vector<NetInterface>& interfaces) {
  std::vector<HostNic> out;
  for (const NetInterface& n : interfaces) {
    out.push_back(HostNic{n, NetworkDevice(topo, n.name)});
  }
  return out;
}

}  // namespace meridian::runtime
