// meridian-info: what this Meridian build contains and what this machine
// offers it (version, build options, transports, topology), as text or
// --json for scripts.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "runtime/include/meridian.h"
#include "runtime/tools/cli_flag.h"
#include "runtime/tools/json_writer.h"
#include "runtime/tools/plan_report.h"
#include "runtime/tools/topology_probe.h"

namespace meridian::tools {
namespace {

const char kUsage[] =
    "usage: meridian-info [--json]\n"
    "       meridian-info --plan FILE|scenario:NAME [--sizes 4K,1M,64M]\n"
    "                     [--algo auto|ring|tree|hier] [--ring-order auto|rank]\n"
    "\n"
    "Prints the Meridian version, how it was built, the transports compiled\n"
    "in, and this machine's topology (NUMA nodes, cores, network interfaces,\n"
    "GPUs and their locality).\n"
    "\n"
    "With --plan: the plan the planner chooses for all-reduces of each size on\n"
    "a saved topology (MERIDIAN_TOPOLOGY_FILE) or a reference scenario\n"
    "(europe, transatlantic, transatlantic-6, three-continents, straggler, ...),\n"
    "every candidate's predicted time, and what the chosen one waits on.\n"
    "\n"
    "  --json       machine-readable output\n"
    "  -h, --help   this text\n";

struct Transport {
  std::string name;
  bool compiled = false;
};

// The build writes "tcp=1;ucx=0;..." so that a new transport shows up here
// by being added to the build, not to this file.
std::vector<Transport> CompiledTransports() {
  std::vector<Transport> out;
  for (absl::string_view item :
       absl::StrSplit(MERIDIAN_INFO_TRANSPORTS, ';', absl::SkipEmpty())) {
    std::vector<std::string> kv = absl::StrSplit(item, '=');
    out.push_back(Transport{kv[0], kv.size() > 1 && kv[1] == "1"});
  }
  return out;
}

std::string VersionText() {
  return absl::StrCat(MDN_VERSION_MAJOR, ".", MDN_VERSION_MINOR, ".",
                      MDN_VERSION_PATCH);
}

std::string Sanitizers() {
  std::string s = MERIDIAN_INFO_SANITIZERS;
  return s.empty() ? "none" : s;
}

std::string Bytes(uint64_t b) {
  return absl::StrFormat("%.1f GiB", static_cast<double>(b) / (1ull << 30));
}

// The hwloc device of an interface, when hwloc saw it (PCI-attached NICs).
const IoDevice* DeviceNamed(const Topology& t, const std::string& name) {
  for (const IoDevice& d : t.devices) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string LocalityText(const IoDevice& d) {
  std::vector<std::string> parts;
  if (!d.pci.empty()) parts.push_back("PCI " + d.pci);
  if (!d.locality.numa_nodes.empty())
    parts.push_back("NUMA " + d.locality.numa_nodes);
  if (!d.locality.pus.empty()) parts.push_back("PUs " + d.locality.pus);
  return absl::StrJoin(parts, ", ");
}

void PrintDevices(const Topology& t, const char* title,
                  const std::vector<std::string>& kinds) {
  std::printf("\n%s\n", title);
  int shown = 0;
  for (const IoDevice& d : t.devices) {
    if (std::find(kinds.begin(), kinds.end(), d.kind) == kinds.end()) continue;
    std::printf("  %-14s %s%s%s\n", d.name.c_str(), d.model.c_str(),
                d.model.empty() ? "" : "; ", LocalityText(d).c_str());
    ++shown;
  }
  if (shown == 0) {
    std::printf("  none found%s\n", t.probed ? "" : " (no hwloc)");
  }
}

void PrintText(const Topology& t, const std::vector<NetInterface>& ifs) {
  std::printf("Meridian %s (version code %d)\n", VersionText().c_str(),
              MDN_VERSION_CODE);
  std::printf("\nBuild\n");
  std::printf("  %-14s %s\n", "build type", MERIDIAN_INFO_BUILD_TYPE);
  std::printf("  %-14s %s\n", "compiler", MERIDIAN_INFO_COMPILER);
  std::printf("  %-14s %s\n", "CUDA", MERIDIAN_INFO_CUDA ? "yes" : "no");
  std::printf("  %-14s %s\n", "sanitizers", Sanitizers().c_str());
  std::printf("\nTransports\n");
  for (const Transport& tr : CompiledTransports()) {
    std::printf("  %-14s %s\n", tr.name.c_str(), tr.compiled ? "yes" : "no");
  }
  if (t.probed) {
    std::printf("\nTopology (%s)\n", t.source.c_str());
    std::printf("  NUMA nodes %d, packages %d, cores %d, PUs %d\n",
                t.numa_nodes, t.packages, t.cores, t.pus);
    for (const NumaNode& n : t.numa) {
      std::printf("  NUMA node %-4u PUs %s, %s\n", n.index, n.pus.c_str(),
                  Bytes(n.memory_bytes).c_str());
    }
  } else {
    std::printf("\nTopology\n  unavailable: %s\n", t.problem.c_str());
  }
  std::printf("\nNetwork interfaces\n");
  for (const NetInterface& n : ifs) {
    std::string flags = n.up ? "up" : "down";
    if (n.loopback) flags += ", loopback";
    std::string addrs =
        n.addresses.empty() ? "-" : absl::StrJoin(n.addresses, " ");
    const IoDevice* d = DeviceNamed(t, n.name);
    std::printf("  %-14s %-14s %s%s%s\n", n.name.c_str(), flags.c_str(),
                addrs.c_str(), d != nullptr ? "; " : "",
                d != nullptr ? LocalityText(*d).c_str() : "");
  }
  PrintDevices(t, "RDMA devices", {"openfabrics"});
  PrintDevices(t, "GPUs", {"gpu", "coprocessor"});
}

void WriteLocality(JsonWriter& w, const IoDevice* d) {
  w.Key("pci");
  d != nullptr && !d->pci.empty() ? w.String(d->pci) : w.Null();
  w.Key("numa_nodes");
  d != nullptr && !d->locality.numa_nodes.empty()
      ? w.String(d->locality.numa_nodes)
      : w.Null();
  w.Key("pus");
  d != nullptr && !d->locality.pus.empty() ? w.String(d->locality.pus)
                                           : w.Null();
}

void PrintJson(const Topology& t, const std::vector<NetInterface>& ifs) {
  JsonWriter w;
  w.BeginObject();
  w.Key("version");
  w.String(VersionText());
  w.Key("version_code");
  w.Int(MDN_VERSION_CODE);
  w.Key("build");
  w.BeginObject();
  w.Key("type");
  w.String(MERIDIAN_INFO_BUILD_TYPE);
  w.Key("compiler");
  w.String(MERIDIAN_INFO_COMPILER);
  w.Key("cuda");
  w.Bool(MERIDIAN_INFO_CUDA);
  w.Key("sanitizers");
  w.BeginArray();
  for (absl::string_view s :
       absl::StrSplit(MERIDIAN_INFO_SANITIZERS, ',', absl::SkipEmpty())) {
    w.String(std::string(s));
  }
  w.EndArray();
  w.EndObject();
  w.Key("transports");
  w.BeginObject();
  for (const Transport& tr : CompiledTransports()) {
    w.Key(tr.name);
    w.Bool(tr.compiled);
  }
  w.EndObject();
  w.Key("topology");
  w.BeginObject();
  w.Key("available");
  w.Bool(t.probed);
  if (t.probed) {
    w.Key("source");
    w.String(t.source);
    w.Key("numa_nodes");
    w.Int(t.numa_nodes);
    w.Key("packages");
    w.Int(t.packages);
    w.Key("cores");
    w.Int(t.cores);
    w.Key("pus");
    w.Int(t.pus);
    w.Key("numa");
    w.BeginArray();
    for (const NumaNode& n : t.numa) {
      w.BeginObject();
      w.Key("index");
      w.Int(n.index);
      w.Key("pus");
      w.String(n.pus);
      w.Key("memory_bytes");
      w.Int(static_cast<int64_t>(n.memory_bytes));
      w.EndObject();
    }
    w.EndArray();
    w.Key("devices");
    w.BeginArray();
    for (const IoDevice& d : t.devices) {
      w.BeginObject();
      w.Key("name");
      w.String(d.name);
      w.Key("kind");
      w.String(d.kind);
      w.Key("model");
      w.String(d.model);
      WriteLocality(w, &d);
      w.EndObject();
    }
    w.EndArray();
  } else {
    w.Key("problem");
    w.String(t.problem);
  }
  w.EndObject();
  w.Key("interfaces");
  w.BeginArray();
  for (const NetInterface& n : ifs) {
    w.BeginObject();
    w.Key("name");
    w.String(n.name);
    w.Key("up");
    w.Bool(n.up);
    w.Key("loopback");
    w.Bool(n.loopback);
    w.Key("addresses");
    w.BeginArray();
    for (const std::string& a : n.addresses) w.String(a);
    w.EndArray();
    WriteLocality(w, DeviceNamed(t, n.name));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  std::printf("%s\n", w.str().c_str());
}

}  // namespace
}  // namespace meridian::tools

#if MERIDIAN_INFO_SANITIZE
// hwloc's PCI plugin (libpciaccess) leaks a little and is unloaded before
// exit, so its allocations cannot even be named in a suppression.  This
// short-lived tool is not where our own leaks would hide; the tests are.
extern "C" const char* __lsan_default_options() { return "detect_leaks=0"; }
#endif

int main(int argc, char** argv) {
  bool json = false;
  bool plan = false;
  meridian::tools::PlanReportArgs plan_args;
  std::string sizes = "4K,1M,64M";
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (meridian::tools::TakeValue(argc, argv, i, "--plan", &plan_args.source)) {
      plan = true;
    } else if (meridian::tools::TakeValue(argc, argv, i, "--sizes", &sizes) ||
               meridian::tools::TakeValue(argc, argv, i, "--algo", &plan_args.algo) ||
               meridian::tools::TakeValue(argc, argv, i, "--ring-order",
                                          &plan_args.ring_order)) {
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(meridian::tools::kUsage, stdout);
      return 0;
    } else {
      std::fprintf(stderr, "meridian-info: unknown argument '%s'\n%s",
                   arg.c_str(), meridian::tools::kUsage);
      return 2;
    }
  }
  if (plan) {
    plan_args.sizes = absl::StrSplit(sizes, ',', absl::SkipEmpty());
    return meridian::tools::PrintPlanReport(plan_args);
  }
  meridian::tools::Topology topology = meridian::tools::ProbeTopology();
  std::vector<meridian::tools::NetInterface> interfaces =
      meridian::tools::ProbeInterfaces();
  if (json) {
    meridian::tools::PrintJson(topology, interfaces);
  } else {
    meridian::tools::PrintText(topology, interfaces);
  }
  return 0;
}
