#include "perf/wan/emulator/tun.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace meridian::wanem {
namespace {

std::string Errno(int err) { return std::strerror(err); }

// Creates the device in the current namespace.
int CreateTunHere(const std::string& where, const std::string& ifname, int mtu,
                  std::string* error) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    *error = "cannot open /dev/net/tun: " + Errno(err) +
             (err == EACCES || err == EPERM ? " (needs root or CAP_NET_ADMIN)"
                                            : "");
    return -1;
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    *error = "cannot create TUN device " + ifname + " in " + where + ": " +
             Errno(err) +
             (err == EBUSY ? " (a device of that name is already in use)"
                           : err == EPERM ? " (needs root or CAP_NET_ADMIN)"
                                          : "");
    close(fd);
    return -1;
  }
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    *error = "socket in " + where + ": " + Errno(errno);
    close(fd);
    return -1;
  }
  std::memset(&ifr, 0, sizeof ifr);
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname.c_str());
  ifr.ifr_mtu = mtu;
  if (ioctl(sock, SIOCSIFMTU, &ifr) < 0) {
    *error = "cannot set the MTU of " + ifname + " in " + where + " to " +
             std::to_string(mtu) + ": " + Errno(errno);
    close(sock);
    close(fd);
    return -1;
  }
  close(sock);
  return fd;
}

}  // namespace

int CreateTunInNetns(const std::string& netns, const std::string& ifname,
                     int mtu, std::string* error) {
  std::string path =
      !netns.empty() && netns[0] == '/' ? netns : "/var/run/netns/" + netns;
  std::string where = "network namespace '" + netns + "'";
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    *error = "bad interface name '" + ifname + "'";
    return -1;
  }
  int ns = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) {
    int err = errno;
    *error = where + (err == ENOENT ? " does not exist" : " cannot be opened") +
             " (" + path + ": " + Errno(err) + ")";
    return -1;
  }
  int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) {
    *error = "cannot open /proc/self/ns/net: " + Errno(errno);
    close(ns);
    return -1;
  }
  if (setns(ns, CLONE_NEWNET) < 0) {
    int err = errno;
    *error = "cannot enter " + where + ": " + Errno(err) +
             (err == EPERM ? " (needs root or CAP_SYS_ADMIN)"
                           : err == EINVAL ? " (" + path +
                                                  " is not a network namespace)"
                                           : "");
    close(self);
    close(ns);
    return -1;
  }
  close(ns);
  int fd = CreateTunHere(where, ifname, mtu, error);
  if (setns(self, CLONE_NEWNET) < 0) {
    // Every later device would land in the wrong namespace.
    std::fprintf(stderr, "meridian-wanem: cannot return to the original "
                         "network namespace: %s\n", std::strerror(errno));
    std::abort();
  }
  close(self);
  return fd;
}

}  // namespace meridian::wanem
