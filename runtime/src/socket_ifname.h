// Which interface's address a communicator advertises to its peers when
// none is configured (mdnCommConfig_t.advertise_address and
// MERIDIAN_ADVERTISE_ADDR win over everything here).
//
// MERIDIAN_SOCKET_IFNAME selects interfaces the way NCCL_SOCKET_IFNAME
// does, so a job script can set both to the same value: a comma list of
// name prefixes ("eth,ens"); a leading '^' turns it into a list to exclude
// ("^docker,lo"); a leading '=' (after '^' when both) makes the names exact
// ("=eth0", "^=eth1").
//
// The choice, in order (ChooseInterface), among the interfaces that are up
// with an IPv4 address and, when MERIDIAN_SOCKET_IFNAME is set, selected by
// it:
//  1. the interface the coordinator connection left from, unless it is
//     loopback: the coordinator was reached through it, so the routing
//     table says it is the one other hosts can reach;
//  2. otherwise the first up interface with an IPv4 address, physical NICs
//     (hwloc lists them under a PCI device) before other interfaces, and
//     container bridges (docker*, veth*, virbr*, br-*) after those, as
//     NCCL skips docker* by default;
//  3. loopback only when nothing else qualifies ("=lo" asks for it): a
//     coordinator reached over 127.0.0.1 says nothing about where the other
//     peers are, and an advertised 127.0.0.1 is unreachable from any other
//     host.
#ifndef MERIDIAN_RUNTIME_SRC_SOCKET_IFNAME_H_
#define MERIDIAN_RUNTIME_SRC_SOCKET_IFNAME_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "runtime/src/host_topology.h"

namespace meridian::runtime {

struct IfnameFilter {
  std::string text;      // as given, for messages
  bool exclude = false;  // leading '^'
  bool exact = false;    // leading '='
  std::vector<std::string> names;

  // Whether `interface` is selected: it matches an entry (as prefix, or
  // exactly with '='), negated by '^'.
  bool Selects(absl::string_view interface) const;
};

// Parses a MERIDIAN_SOCKET_IFNAME value.  Errors: InvalidArgument naming the
// variable when the list names no interface ("", "^", "=", "eth,,ens").
absl::StatusOr<IfnameFilter> ParseIfnameFilter(absl::string_view text);

struct InterfaceChoice {
  std::string interface;
  std::string address;  // the IPv4 address to advertise
  std::string why;      // for the Info log line
};

// The pure decision (rules above).  `filter`: nullptr when
// MERIDIAN_SOCKET_IFNAME is unset.  `route_address`: the local address of
// the coordinator connection ("" when unknown).  `topo` tells physical NICs
// apart (an unloaded topology treats every interface alike).
// Errors: InvalidArgument when `filter` selects no up interface with an
// IPv4 address, naming MERIDIAN_SOCKET_IFNAME and every interface there is;
// FailedPrecondition when no interface at all has an IPv4 address and the
// route is unknown.  coordinator_is_loopback: the coordinator's address was
// given as a loopback one (IsLoopbackHost), so every peer is on this host;
// without a filter, loopback is then advertised, which keeps the data port
// off the network.

absl::StatusOr<InterfaceChoice> ChooseInterface(const std::vector<NetInterface>& interfaces,
                                                const HostTopology& topo,
                                                const IfnameFilter* filter,
                                                absl::string_view route_address,
                                                bool coordinator_is_loopback = false);

// ChooseInterface on this host (getifaddrs, the process's hwloc topology),
// logged at Info.
absl::StatusOr<InterfaceChoice> ChooseLocalInterface(const IfnameFilter* filter,
                                                     absl::string_view route_address,
                                                     bool coordinator_is_loopback);

// "localhost", 127.0.0.0/8 or ::1: a coordinator address that only peers on
// its own host can use.
bool IsLoopbackHost(absl::string_view host);

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_SOCKET_IFNAME_H_
