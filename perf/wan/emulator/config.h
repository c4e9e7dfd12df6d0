// meridian-wanem's configuration file (docs/wan.md): peers (index, network
// namespace, IPv4 address), links (rate, one-way delay, loss, queue) and one
// path (a list of links) per ordered pair of peers.
#ifndef MERIDIAN_PERF_WAN_EMULATOR_CONFIG_H_
#define MERIDIAN_PERF_WAN_EMULATOR_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::wanem {

inline constexpr int kDefaultMtu = 16000;
// Default queue of a link: one bandwidth-delay product (rate x 2 x one-way
// delay), at least this much.
inline constexpr uint64_t kMinDefaultQueueBytes = 256 * 1024;

struct PeerSpec {
  int index = -1;
  std::string netns;  // a name under /var/run/netns, or an absolute path
  uint32_t addr = 0;  // IPv4, host byte order
  std::string addr_text;
  int line = 0;
};

struct LinkSpec {
  std::string name;
  uint64_t rate_bps = 0;  // 0: unlimited (no serialisation delay)
  int64_t delay_ns = 0;   // one-way propagation delay
  double loss = 0;        // probability, applied before queueing
  uint64_t queue_bytes = 0;  // tail-drop limit (the default when 0 is given)
  int line = 0;
};

struct Config {
  int mtu = kDefaultMtu;
  std::vector<PeerSpec> peers;  // peers[i].index == i
  std::vector<LinkSpec> links;
  // paths[from][to]: indices into links, in the order a packet crosses them
  // (empty for from == to).
  std::vector<std::vector<std::vector<int>>> paths;
};

// The default queue of a link given no queue size (or 0).
uint64_t DefaultQueueBytes(uint64_t rate_bps, int64_t delay_ns);

// Parses the text of a configuration file.  On failure returns false and sets
// *error to a message that starts with "line N: " when one line is at fault.
bool ParseConfig(const std::string& text, Config* config, std::string* error);

// Reads and parses `path`; errors are prefixed with the file name.
bool LoadConfig(const std::string& path, Config* config, std::string* error);

// "1000000", "1e9", "100M", "2.5G" (decimal k/M/G suffixes).
bool ParseRate(const std::string& text, uint64_t* bps);

}  // namespace meridian::wanem

#endif  // MERIDIAN_PERF_WAN_EMULATOR_CONFIG_H_
