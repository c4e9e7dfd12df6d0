// meridian-wanem: the user-space packet-level WAN emulator of docs/wan.md.
//
//   meridian-wanem --config FILE [--seed N] [--stats-interval-ms N]
//                  [--spin-us N] [--exit-with-parent]
//
// Creates a TUN device wan0 in each peer's network namespace (with the MTU
// of the configuration; the harness assigns the address and brings it up),
// prints "ready" on stdout, then forwards the IPv4 packets each peer sends
// through the links of the path to their destination until SIGTERM/SIGINT,
// when it prints its counters on stdout and exits 0.  One thread: epoll over
// the TUN descriptors, a signalfd and a timerfd (CLOCK_MONOTONIC, absolute)
// armed for the next packet due (with --spin-us N, armed N us early, and
// the last N us are spent polling: a sleeping CPU of a virtual machine can
// take 100 us and more to wake up).  Exit status 2: bad command line or
// configuration, or a device that cannot be created.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "perf/wan/emulator/config.h"
#include "perf/wan/emulator/forwarder.h"
#include "perf/wan/emulator/tun.h"
#include "runtime/tools/cli_flag.h"

namespace meridian::wanem {
namespace {

constexpr const char* kIfName = "wan0";
constexpr int kReadBatch = 64;         // packets read per readiness event
constexpr size_t kMaxBacklog = 4096;   // packets waiting for one TUN write
constexpr size_t kMaxPoolBytes = size_t{1} << 30;
constexpr uint32_t kTagTimer = 1u << 30;
constexpr uint32_t kTagSignal = kTagTimer + 1;
constexpr uint32_t kTagStats = kTagTimer + 2;

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void Usage(FILE* out) {
  std::fprintf(out,
               "usage: meridian-wanem --config FILE [--seed N] "
               "[--stats-interval-ms N] [--spin-us N] [--exit-with-parent]\n"
               "  --config FILE          links, peers and paths (docs/wan.md)\n"
               "  --seed N               seed of the random loss (default 1)\n"
               "  --stats-interval-ms N  print the counters on stderr every N "
               "ms (default 0: never)\n"
               "  --spin-us N            wake N us before a packet is due and "
               "poll until it is\n"
               "                         (accurate delays when wake-ups are "
               "slow; costs CPU; default 0)\n"
               "  --exit-with-parent     stop (as on SIGTERM) when the parent "
               "process dies\n");
}

using meridian::tools::TakeValue;

bool ParseU64(const std::string& s, uint64_t* v) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t x = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    x = x * 10 + static_cast<uint64_t>(c - '0');
  }
  *v = x;
  return true;
}

struct IoCounters {
  uint64_t no_buffer = 0;      // read and dropped: the pool was exhausted
  uint64_t oversize = 0;       // read and dropped: longer than the MTU
  uint64_t read_errors = 0;
  uint64_t write_retries = 0;  // a write would block: kept and retried
  uint64_t write_errors = 0;   // a write failed: dropped
  uint64_t write_dropped = 0;  // the destination's backlog was full
};

// Writes delivered packets into the destination's TUN device; keeps them
// (in order) when the device would block and retries on EPOLLOUT.
class TunSink : public Forwarder::Sink {
 public:
  TunSink(int epoll_fd, const std::vector<int>& fds, PacketPool* pool,
          IoCounters* counters)
      : epoll_fd_(epoll_fd),
        fds_(fds),
        pool_(pool),
        counters_(counters),
        head_(fds.size(), nullptr),
        tail_(fds.size(), nullptr),
        backlog_(fds.size(), 0) {}

  void Deliver(Packet* p) override {
    int dst = p->dst;
    if (head_[dst]) {
      if (backlog_[dst] >= kMaxBacklog) {
        ++counters_->write_dropped;
        pool_->Put(p);
        return;
      }
      Append(dst, p);
      return;
    }
    ssize_t n = write(fds_[dst], p->data, p->len);
    if (n >= 0) {
      pool_->Put(p);
      return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      ++counters_->write_retries;
      Append(dst, p);
      WatchOut(dst, true);
      return;
    }
    ++counters_->write_errors;
    pool_->Put(p);
  }

  // The device of `dst` is writable again.
  void Flush(int dst) {
    while (Packet* p = head_[dst]) {
      ssize_t n = write(fds_[dst], p->data, p->len);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        ++counters_->write_retries;
        return;
      }
      if (n < 0) ++counters_->write_errors;
      head_[dst] = p->next;
      if (!head_[dst]) tail_[dst] = nullptr;
      --backlog_[dst];
      pool_->Put(p);
    }
    WatchOut(dst, false);
  }

  size_t backlog() const {
    size_t n = 0;
    for (size_t b : backlog_) n += b;
    return n;
  }

 private:
  void Append(int dst, Packet* p) {
    p->next = nullptr;
    if (tail_[dst]) {
      tail_[dst]->next = p;
    } else {
      head_[dst] = p;
    }
    tail_[dst] = p;
    ++backlog_[dst];
  }

  void WatchOut(int dst, bool on) {
    struct epoll_event ev;
    std::memset(&ev, 0, sizeof ev);
    ev.events = on ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(dst);
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fds_[dst], &ev);
  }

  int epoll_fd_;
  const std::vector<int>& fds_;
  PacketPool* pool_;
  IoCounters* counters_;
  std::vector<Packet*> head_, tail_;
  std::vector<size_t> backlog_;
};

std::string TotalLine(const Forwarder& fwd, const IoCounters& io,
                      const PacketPool& pool, size_t backlog) {
  const ForwarderCounters& c = fwd.counters();
  char line[1024];
  std::snprintf(
      line, sizeof line,
      "total rx_packets %" PRIu64 " rx_bytes %" PRIu64 " delivered %" PRIu64
      " delivered_bytes %" PRIu64 " non_ipv4 %" PRIu64 " unknown_dst %" PRIu64
      " no_buffer %" PRIu64 " oversize %" PRIu64 " read_errors %" PRIu64
      " write_retries %" PRIu64 " write_errors %" PRIu64
      " write_dropped %" PRIu64 " in_flight %zu backlog %zu pool_high_water %zu late_us_avg %.1f"
      " late_us_max %.1f\n",
      c.rx_packets, c.rx_bytes, c.delivered, c.delivered_bytes, c.non_ipv4,
      c.unknown_dst, io.no_buffer, io.oversize, io.read_errors,
      io.write_retries, io.write_errors, io.write_dropped, fwd.in_flight(),
      backlog, pool.high_water(),
      c.delivered ? static_cast<double>(c.late_ns_sum) / c.delivered / 1e3 : 0.0,
      static_cast<double>(c.late_ns_max) / 1e3);
  return line;
}

int Run(int argc, char** argv) {
  std::string config_path, value;
  uint64_t seed = 1, stats_ms = 0, spin_us = 0;
  bool exit_with_parent = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      Usage(stdout);
      return 0;
    } else if (TakeValue(argc, argv, i, "--config", &value)) {
      config_path = value;
    } else if (TakeValue(argc, argv, i, "--seed", &value)) {
      if (!ParseU64(value, &seed)) {
        std::fprintf(stderr, "meridian-wanem: bad --seed '%s'\n", value.c_str());
        return 2;
      }
    } else if (TakeValue(argc, argv, i, "--stats-interval-ms", &value)) {
      if (!ParseU64(value, &stats_ms) || stats_ms > 86400000) {
        std::fprintf(stderr, "meridian-wanem: bad --stats-interval-ms '%s'\n",
                     value.c_str());
        return 2;
      }
    } else if (TakeValue(argc, argv, i, "--spin-us", &value)) {
      if (!ParseU64(value, &spin_us) || spin_us > 1000000) {
        std::fprintf(stderr, "meridian-wanem: bad --spin-us '%s'\n", value.c_str());
        return 2;
      }
    } else if (arg == "--exit-with-parent") {
      exit_with_parent = true;
    } else {
      std::fprintf(stderr, "meridian-wanem: unknown or incomplete argument '%s'\n",
                   arg.c_str());
      Usage(stderr);
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "meridian-wanem: --config FILE is required\n");
    Usage(stderr);
    return 2;
  }
  Config config;
  std::string error;
  if (!LoadConfig(config_path, &config, &error)) {
    std::fprintf(stderr, "meridian-wanem: %s\n", error.c_str());
    return 2;
  }

  // Signals arrive through a signalfd; a closed stdout is not fatal.
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (exit_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() == 1) return 0;
  }
  // Timers fire when due, not up to 50 us later.
  prctl(PR_SET_TIMERSLACK, 1UL);

  std::vector<int> fds;
  for (const PeerSpec& p : config.peers) {
    int fd = CreateTunInNetns(p.netns, kIfName, config.mtu, &error);
    if (fd < 0) {
      std::fprintf(stderr, "meridian-wanem: peer %d (config line %d): %s\n",
                   p.index, p.line, error.c_str());
      for (int f : fds) close(f);
      return 2;
    }
    fds.push_back(fd);
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  int stats_fd = -1;
  if (ep < 0 || tfd < 0 || sfd < 0) {
    std::fprintf(stderr, "meridian-wanem: epoll/timerfd/signalfd: %s\n",
                 std::strerror(errno));
    return 1;
  }
  auto add = [&](int fd, uint32_t tag) {
    struct epoll_event ev;
    std::memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u32 = tag;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
      std::fprintf(stderr, "meridian-wanem: epoll_ctl: %s\n", std::strerror(errno));
      std::exit(1);
    }
  };
  for (size_t i = 0; i < fds.size(); ++i) add(fds[i], static_cast<uint32_t>(i));
  add(tfd, kTagTimer);
  add(sfd, kTagSignal);
  if (stats_ms > 0) {
    stats_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct itimerspec its;
    std::memset(&its, 0, sizeof its);
    its.it_interval.tv_sec = static_cast<time_t>(stats_ms / 1000);
    its.it_interval.tv_nsec = static_cast<long>(stats_ms % 1000) * 1000000;
    its.it_value = its.it_interval;
    timerfd_settime(stats_fd, 0, &its, nullptr);
    add(stats_fd, kTagStats);
  }

  // Buffers: the MTU rounded up to a cache line (a longer packet is seen as
  // such by its length, one byte over the MTU, and dropped).
  uint32_t buffer_bytes = (static_cast<uint32_t>(config.mtu) + 1 + 63) & ~63u;
  PacketPool pool(buffer_bytes, kMaxPoolBytes / buffer_bytes);
  std::vector<uint8_t> scratch(buffer_bytes);
  Forwarder fwd(config, seed, &pool);
  IoCounters io;
  TunSink sink(ep, fds, &pool, &io);
  int64_t start_ns = NowNs();

  std::fprintf(stderr,
               "meridian-wanem: %zu peers, %zu links, mtu %d, device %s\n",
               config.peers.size(), config.links.size(), config.mtu, kIfName);
  std::fputs("ready\n", stdout);
  std::fflush(stdout);

  auto read_peer = [&](int i) {
    for (int k = 0; k < kReadBatch; ++k) {
      Packet* p = pool.Get();
      uint8_t* buf = p ? p->data : scratch.data();
      ssize_t n = read(fds[i], buf, buffer_bytes);
      if (n < 0) {
        if (p) pool.Put(p);
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
          ++io.read_errors;
        return;
      }
      int64_t now = NowNs();
      if (!p) {
        ++io.no_buffer;
        continue;
      }
      if (n > config.mtu) {
        ++io.oversize;
        pool.Put(p);
        continue;
      }
      p->len = static_cast<uint32_t>(n);
      fwd.Ingress(p, i, now);
    }
  };

  const int64_t spin_ns = static_cast<int64_t>(spin_us) * 1000;
  // The timer is re-armed only when it would fire too late (or has fired):
  // firing early is harmless (nothing is due, it is armed again), and one
  // timerfd_settime per packet would cost a few % of the CPU at 4 Gbit/s.
  int64_t armed_ns = INT64_MIN;  // INT64_MIN: not armed or already fired
  auto arm = [&](int64_t now) {
    int64_t next = fwd.NextDue();
    if (next == INT64_MAX) return;  // nothing due; a stale expiry is harmless
    next -= spin_ns;
    if (next <= now) return;  // within the spin: the loop polls
    if (armed_ns > now && armed_ns <= next) return;
    struct itimerspec its;
    std::memset(&its, 0, sizeof its);
    int64_t at = next > 0 ? next : 1;  // 0 would disarm
    its.it_value.tv_sec = static_cast<time_t>(at / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(at % 1000000000);
    timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, nullptr);
    armed_ns = next;
  };

  struct epoll_event events[64];
  bool stop = false;
  while (!stop) {
    // Within spin_ns of the next packet due: poll instead of sleeping.
    int timeout = -1;
    if (spin_ns > 0 && fwd.NextDue() - spin_ns <= NowNs()) timeout = 0;
    int n = epoll_wait(ep, events, 64, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "meridian-wanem: epoll_wait: %s\n", std::strerror(errno));
      return 1;
    }
    fwd.RunDue(NowNs(), &sink);
    for (int e = 0; e < n; ++e) {
      uint32_t tag = events[e].data.u32;
      if (tag == kTagTimer) {
        uint64_t expirations;
        while (read(tfd, &expirations, sizeof expirations) > 0) {
        }
        armed_ns = INT64_MIN;  // fired: re-arm below even for the same time
      } else if (tag == kTagSignal) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
          if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) stop = true;
        }
      } else if (tag == kTagStats) {
        uint64_t expirations;
        while (read(stats_fd, &expirations, sizeof expirations) > 0) {
        }
        std::string text = fwd.FormatCounters() +
                           TotalLine(fwd, io, pool, sink.backlog());
        std::fprintf(stderr, "stats t=%.3f\n%s",
                     static_cast<double>(NowNs() - start_ns) * 1e-9, text.c_str());
      } else if (tag < fds.size()) {
        if (events[e].events & EPOLLOUT) sink.Flush(static_cast<int>(tag));
        if (events[e].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
          read_peer(static_cast<int>(tag));
      }
    }
    int64_t now = NowNs();
    fwd.RunDue(now, &sink);
    arm(now);
  }

  std::string text =
      fwd.FormatCounters() + TotalLine(fwd, io, pool, sink.backlog());
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  for (int f : fds) close(f);  // the (non-persistent) devices go away
  return 0;
}

}  // namespace
}  // namespace meridian::wanem

int main(int argc, char** argv) { return meridian::wanem::Run(argc, argv); }
