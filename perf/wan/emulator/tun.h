// TUN devices inside network namespaces.
#ifndef MERIDIAN_PERF_WAN_EMULATOR_TUN_H_
#define MERIDIAN_PERF_WAN_EMULATOR_TUN_H_

#include <string>

namespace meridian::wanem {

// Enters the network namespace `netns` (a name under /var/run/netns, as
// `ip netns add` makes them, or an absolute path such as /proc/PID/ns/net)
// with setns, creates the TUN device `ifname` there (IFF_TUN | IFF_NO_PI,
// not persistent: it goes away with the descriptor), sets its MTU to `mtu`
// (SIOCSIFMTU; the device stays down, without address: the harness brings
// it up) and comes back to the original namespace.  Returns the
// non-blocking descriptor, or -1 with *error set.
int CreateTunInNetns(const std::string& netns, const std::string& ifname,
                     int mtu, std::string* error);

}  // namespace meridian::wanem

#endif  // MERIDIAN_PERF_WAN_EMULATOR_TUN_H_
