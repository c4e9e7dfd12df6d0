#include "runtime/src/socket_ifname.h"

#include <arpa/inet.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/log.h"

namespace meridian::runtime {
namespace {

constexpr const char* kVar = "MERIDIAN_SOCKET_IFNAME";

bool IsContainerBridge(absl::string_view name) {
  for (absl::string_view p : {"docker", "veth", "virbr", "br-"}) {
    if (absl::StartsWith(name, p)) return true;
  }
  return false;
}

// Lower is better (rule 2 and 3 of the header).
int Tier(const NetInterface& n, const HostTopology& topo) {
  if (n.loopback) return 3;
  if (NetworkDevice(topo, n.name) != nullptr) return 0;
  return IsContainerBridge(n.name) ? 2 : 1;
}

bool Usable(const NetInterface& n) { return n.up && !n.ipv4.empty(); }

// The address to advertise on `n`: the route's when it is one of n's (an
// interface with several addresses left for the coordinator from that
// one), else its first IPv4 address.
std::string AddressOn(const NetInterface& n, absl::string_view route_address) {
  for (const std::string& a : n.ipv4) {
    if (a == route_address) return a;
  }
  return n.ipv4.front();
}

std::string Describe(const NetInterface& n) {
  std::vector<std::string> parts = {n.up ? "up" : "down"};
  if (n.loopback) parts.push_back("loopback");
  if (n.ipv4.empty()) {
    parts.push_back("no IPv4 address");
  } else {
    parts.push_back(absl::StrJoin(n.ipv4, " "));
  }
  return absl::StrCat(n.name, " (", absl::StrJoin(parts, ", "), ")");
}

std::string DescribeAll(const std::vector<NetInterface>& interfaces) {
  if (interfaces.empty()) return "none";
  std::vector<std::string> all;
  for (const NetInterface& n : interfaces) all.push_back(Describe(n));
  return absl::StrJoin(all, ", ");
}

const char* TierText(int tier) {
  switch (tier) {
    case 0: return "a physical NIC";
    case 1: return "no physical NIC has an IPv4 address";
    case 2: return "only container bridges have IPv4 addresses";
    default: return "no other interface has an IPv4 address";
  }
}

}  // namespace

bool IfnameFilter::Selects(absl::string_view interface) const {
  bool hit = false;
  for (const std::string& n : names) {
    if (exact ? interface == n : absl::StartsWith(interface, n)) {
      hit = true;
      break;
    }
  }
  return hit != exclude;
}

absl::StatusOr<IfnameFilter> ParseIfnameFilter(absl::string_view text) {
  IfnameFilter f;
  f.text = std::string(text);
  absl::string_view rest = absl::StripAsciiWhitespace(text);
  f.exclude = absl::ConsumePrefix(&rest, "^");
  f.exact = absl::ConsumePrefix(&rest, "=");
  for (absl::string_view raw : absl::StrSplit(rest, ',')) {
    absl::string_view name = absl::StripAsciiWhitespace(raw);
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          kVar, "='", text,
          "' has an empty interface name; expected a comma list of name prefixes, "
          "'^' to exclude, '=' for exact names (e.g. eth0,ens or ^docker,lo or =eth1)"));
    }
    f.names.emplace_back(name);
  }
  return f;
}

absl::StatusOr<InterfaceChoice> ChooseInterface(const std::vector<NetInterface>& interfaces,
                                                const HostTopology& topo,
                                                const IfnameFilter* filter,
                                                absl::string_view route_address,
                                                bool coordinator_is_loopback) {
  std::vector<const NetInterface*> candidates;
  for (const NetInterface& n : interfaces) {
    if (Usable(n) && (filter == nullptr || filter->Selects(n.name))) candidates.push_back(&n);
  }
  if (candidates.empty() && filter != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        kVar, "='", filter->text,
        "' selects no interface that is up and has an IPv4 address; this host has: ",
        DescribeAll(interfaces)));
  }
  if (candidates.empty()) {
    if (!route_address.empty()) {
      return InterfaceChoice{"", std::string(route_address),
                             "no interface has an IPv4 address; the address the coordinator "
                             "connection uses"};
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "no network interface is up with an IPv4 address to advertise to peers "
        "(set MERIDIAN_ADVERTISE_ADDR); this host has: ",
        DescribeAll(interfaces)));
  }
  const NetInterface* route = InterfaceWithAddress(interfaces, route_address);
  const std::string selects =
      filter != nullptr ? absl::StrCat(kVar, "='", filter->text, "' selects it") : "";
  // Loopback stays last even when a filter selects it ("^docker" leaves lo
  // in): only "=lo", a host with nothing else, or a coordinator named by a
  // loopback address (every peer that can use that address is on this host)
  // advertises it.  A coordinator merely *reached* over loopback says
  // nothing: a hostname may resolve to 127.0.1.1 here and to a real address
  // on the other hosts.
  if (route != nullptr && route->loopback && filter == nullptr && coordinator_is_loopback) {
    return InterfaceChoice{route->name, AddressOn(*route, route_address),
                           "the coordinator's address is a loopback one, so every peer "
                           "is on this host"};
  }
  if (route != nullptr && !route->loopback &&
      std::find(candidates.begin(), candidates.end(), route) != candidates.end()) {
    return InterfaceChoice{route->name, AddressOn(*route, route_address),
                           filter != nullptr
                               ? absl::StrCat(selects, " and it reaches the coordinator")
                               : "it reaches the coordinator"};
  }
  const NetInterface* best = *std::min_element(
      candidates.begin(), candidates.end(), [&](const NetInterface* a, const NetInterface* b) {
        return Tier(*a, topo) < Tier(*b, topo);  // stable: ties keep getifaddrs order
      });
  std::string why = filter != nullptr
                        ? absl::StrCat(selects, " (of those it selects: physical NICs first, "
                                                "loopback last, else in interface order)")
                        : absl::StrCat("the first up interface with IPv4; ",
                                       TierText(Tier(*best, topo)));
  return InterfaceChoice{best->name, AddressOn(*best, route_address), why};
}

bool IsLoopbackHost(absl::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr a4;
  const std::string h(host);
  return inet_pton(AF_INET, h.c_str(), &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

absl::StatusOr<InterfaceChoice> ChooseLocalInterface(const IfnameFilter* filter,
                                                     absl::string_view route_address,
                                                     bool coordinator_is_loopback) {
  absl::StatusOr<InterfaceChoice> choice =
      ChooseInterface(ListNetInterfaces(), ThisHostTopology(), filter, route_address,
                      coordinator_is_loopback);
  if (choice.ok()) {
    MDN_LOG(Info) << "advertising " << choice->address
                  << (choice->interface.empty() ? "" : " on " + choice->interface) << ": "
                  << choice->why;
  }
  return choice;
}

}  // namespace meridian::runtime
