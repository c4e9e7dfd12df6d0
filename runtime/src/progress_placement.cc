#include "runtime/src/progress_placement.h"

#include <pthread.h>
#include <sched.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "base/log.h"

namespace meridian::runtime {
namespace {

constexpr const char* kVar = "MERIDIAN_PROGRESS_CPUS";

std::string NumaText(const CpuList& nodes) {
  return absl::StrCat(nodes.size() == 1 ? "NUMA node " : "NUMA nodes ", CpuListText(nodes));
}

Placement NoBinding(std::string why) { return Placement{false, {}, std::move(why)}; }

}  // namespace

absl::StatusOr<ProgressCpus> ParseProgressCpus(absl::string_view text) {
  absl::string_view v = absl::StripAsciiWhitespace(text);
  ProgressCpus p;
  if (v == "auto") return p;
  if (v == "none") {
    p.mode = ProgressCpus::Mode::kNone;
    return p;
  }
  absl::StatusOr<CpuList> cpus = ParseCpuList(v);
  if (!cpus.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(kVar, "='", text, "' is not auto, none or a CPU list like 0-3,8: ",
                     cpus.status().message()));
  }
  p.mode = ProgressCpus::Mode::kList;
  p.cpus = *std::move(cpus);
  return p;
}

Placement DecideProgressPlacement(const HostTopology& topo, const ProgressCpus& setting,
                                  const NicLocality& nic, const CpuList& allowed) {
  switch (setting.mode) {
    case ProgressCpus::Mode::kNone:
      return NoBinding(absl::StrCat(kVar, "=none"));
    case ProgressCpus::Mode::kList:
      return Placement{true, setting.cpus, absl::StrCat(kVar, "=", CpuListText(setting.cpus))};
    case ProgressCpus::Mode::kAuto:
      break;
  }
  if (!topo.loaded) return NoBinding(absl::StrCat("no host topology: ", topo.problem));
  if (topo.numa.size() <= 1) {
    // Every CPU is as close to the NIC and the memory as any other.
    return NoBinding("one NUMA node");
  }
  if (nic.interface.empty()) {
    return NoBinding("the advertised address is not on a local interface");
  }
  const HostDevice* d = nic.device;
  if (d == nullptr || d->cpus.empty() || d->numa_nodes.empty()) {
    return NoBinding(absl::StrCat(
        nic.interface, " has no NUMA locality in hwloc (virtual, bonded or not on PCI)"));
  }
  if (d->numa_nodes.size() >= topo.numa.size()) {
    return NoBinding(absl::StrCat(nic.interface, " is equally close to every NUMA node"));
  }
  const std::string local = absl::StrCat(nic.interface, " is local to ", NumaText(d->numa_nodes),
                                         " (CPUs ", CpuListText(d->cpus), ")");
  if (allowed.empty()) return Placement{true, d->cpus, local};
  CpuList target = Intersect(d->cpus, allowed);
  if (target.empty()) {
    // Whoever pinned this rank elsewhere (a launcher's per-rank binding)
    // knows about the other ranks on the host; we do not.
    return NoBinding(absl::StrCat(local, " but this thread may only use CPUs ",
                                  CpuListText(allowed)));
  }
  if (target == allowed) {
    return NoBinding(absl::StrCat(local, "; already confined to CPUs ", CpuListText(allowed)));
  }
  return Placement{true, target, local};
}

Placement PlanProgressPlacement(const ProgressCpus& setting, absl::string_view advertised_host) {
  if (setting.mode != ProgressCpus::Mode::kAuto) {
    // No topology needed: do not pay for loading it.
    return DecideProgressPlacement(HostTopology{}, setting, NicLocality{}, {});
  }
  const HostTopology& topo = ThisHostTopology();
  return DecideProgressPlacement(topo, setting,
                                 LocateNic(topo, ListNetInterfaces(), advertised_host),
                                 CurrentThreadCpus());
}

CpuList CurrentThreadCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0) return {};
  CpuList out;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &set)) out.push_back(c);
  }
  return out;
}

absl::Status BindCurrentThread(const CpuList& cpus) {
  if (cpus.empty()) return absl::InvalidArgumentError("no CPUs to bind to");
  // Sized for the highest CPU named, not CPU_SETSIZE: hosts with more than
  // 1024 CPUs exist.
  const int count = cpus.back() + 1;
  cpu_set_t* set = CPU_ALLOC(count);
  if (set == nullptr) return absl::ResourceExhaustedError("CPU_ALLOC failed");
  const size_t bytes = CPU_ALLOC_SIZE(count);
  CPU_ZERO_S(bytes, set);
  for (int c : cpus) CPU_SET_S(c, bytes, set);
  const int rc = pthread_setaffinity_np(pthread_self(), bytes, set);
  CPU_FREE(set);
  if (rc != 0) {
    return absl::ErrnoToStatus(rc, absl::StrCat("pthread_setaffinity_np(", CpuListText(cpus), ")"));
  }
  return absl::OkStatus();
}

void ApplyProgressPlacement(const Placement& p) {
  if (!p.bind) {
    MDN_LOG(Info) << "progress thread not bound: " << p.why;
    return;
  }
  absl::Status s = BindCurrentThread(p.cpus);
  if (s.ok()) {
    MDN_LOG(Info) << "progress thread bound to CPUs " << CpuListText(p.cpus) << ": " << p.why;
  } else {
    MDN_LOG(Warn) << "progress thread runs unbound: cannot bind it to CPUs "
                  << CpuListText(p.cpus) << " (" << p.why << "): " << s.message();
  }
}

}  // namespace meridian::runtime
