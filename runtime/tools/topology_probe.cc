#include "runtime/tools/topology_probe.h"

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

namespace meridian::tools {

#ifdef MERIDIAN_HAVE_HWLOC
namespace {

std::string ListText(hwloc_const_bitmap_t set) {
  if (set == nullptr || hwloc_bitmap_iszero(set)) return "";
  char* text = nullptr;
  if (hwloc_bitmap_list_asprintf(&text, set) < 0 || text == nullptr) return "";
  std::string out(text);
  free(text);
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

IoDevice DescribeOsDevice(hwloc_topology_t topo, hwloc_obj_t obj,
                          const char* kind) {
  IoDevice d;
  d.name = obj->name != nullptr ? obj->name : "";
  d.kind = kind;
  for (hwloc_obj_t p = obj->parent; p != nullptr; p = p->parent) {
    if (p->type == HWLOC_OBJ_PCI_DEVICE) {
      const auto& pci = p->attr->pcidev;
      d.pci = absl::StrFormat("%04x:%02x:%02x.%01x", pci.domain, pci.bus,
                              pci.dev, pci.func);
      if (p->name != nullptr) d.model = p->name;
      break;
    }
  }
  for (const char* info : {"GPUModel", "CoProcType"}) {
    const char* v = hwloc_obj_get_info_by_name(obj, info);
    if (v != nullptr && d.model.empty()) d.model = v;
  }
  hwloc_obj_t anchor = hwloc_get_non_io_ancestor_obj(topo, obj);
  if (anchor != nullptr) {
    d.locality.pus = ListText(anchor->cpuset);
    d.locality.numa_nodes = ListText(anchor->nodeset);
  }
  return d;
}

}  // namespace

Topology ProbeTopology() {
  Topology t;
  unsigned api = hwloc_get_api_version();
  t.source = absl::StrCat("hwloc API ", api >> 16, ".", (api >> 8) & 0xff, ".",
                          api & 0xff);
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) {
    t.problem = "hwloc_topology_init failed";
    return t;
  }
  // I/O objects are filtered out by default; without them there are no
  // NICs or GPUs to place.
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (hwloc_topology_load(topo) != 0) {
    t.problem = "hwloc_topology_load failed";
    hwloc_topology_destroy(topo);
    return t;
  }
  t.probed = true;
  t.numa_nodes = Count(topo, HWLOC_OBJ_NUMANODE);
  t.packages = Count(topo, HWLOC_OBJ_PACKAGE);
  t.cores = Count(topo, HWLOC_OBJ_CORE);
  t.pus = Count(topo, HWLOC_OBJ_PU);
  for (int i = 0; i < t.numa_nodes; ++i) {
    hwloc_obj_t node = hwloc_get_obj_by_type(topo, HWLOC_OBJ_NUMANODE, i);
    if (node == nullptr) continue;
    NumaNode n;
    n.index = node->os_index;
    n.pus = ListText(node->cpuset);
    n.memory_bytes =
        node->attr != nullptr ? node->attr->numanode.local_memory : 0;
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

#else  // !MERIDIAN_HAVE_HWLOC

Topology ProbeTopology() {
  Topology t;
  t.problem = "built without hwloc (install libhwloc-dev and reconfigure)";
  return t;
}

#endif

std::vector<NetInterface> ProbeInterfaces() {
  std::vector<NetInterface> out;
  struct ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (struct ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_name == nullptr) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const NetInterface& n) {
      return n.name == ifa->ifa_name;
    });
    if (it == out.end()) {
      out.push_back(NetInterface{ifa->ifa_name, {}, false, false});
      it = out.end() - 1;
    }
    it->up = it->up || (ifa->ifa_flags & IFF_UP) != 0;
    it->loopback = it->loopback || (ifa->ifa_flags & IFF_LOOPBACK) != 0;
    if (ifa->ifa_addr == nullptr) continue;
    char buf[INET6_ADDRSTRLEN] = {0};
    if (ifa->ifa_addr->sa_family == AF_INET) {
      auto* in = reinterpret_cast<struct sockaddr_in*>(ifa->ifa_addr);
      inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
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

}  // namespace meridian::tools
