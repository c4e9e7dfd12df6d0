#include "perf/wan/emulator/config.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace meridian::wanem {
namespace {

std::string LineError(int line, const std::string& message) {
  return "line " + std::to_string(line) + ": " + message;
}

bool ParseDouble(const std::string& text, double* value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v))
    return false;
  *value = v;
  return true;
}

// A non-negative integer that fits in an int64 (digits only).
bool ParseCount(const std::string& text, uint64_t* value) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = v;
  return true;
}

// Bytes with an optional binary suffix: "262144", "256K", "16M", "1G".
bool ParseBytes(const std::string& text, uint64_t* bytes) {
  if (text.empty()) return false;
  std::string digits = text;
  uint64_t scale = 1;
  char last = text.back();
  if (last == 'k' || last == 'K') scale = 1ull << 10;
  if (last == 'm' || last == 'M') scale = 1ull << 20;
  if (last == 'g' || last == 'G') scale = 1ull << 30;
  if (scale != 1) digits.pop_back();
  uint64_t v = 0;
  if (!ParseCount(digits, &v)) return false;
  if (v > (1ull << 50) / scale) return false;
  *bytes = v * scale;
  return true;
}

struct PendingPath {
  int from, to;
  std::vector<std::string> links;
  int line;
};

}  // namespace

bool ParseRate(const std::string& text, uint64_t* bps) {
  if (text.empty()) return false;
  std::string number = text;
  double scale = 1;
  char last = text.back();
  if (last == 'k' || last == 'K') scale = 1e3;
  if (last == 'm' || last == 'M') scale = 1e6;
  if (last == 'g' || last == 'G') scale = 1e9;
  if (scale != 1) number.pop_back();
  double v = 0;
  if (!ParseDouble(number, &v) || v < 0) return false;
  v *= scale;
  if (v > 1e15 || v != std::floor(v)) return false;
  *bps = static_cast<uint64_t>(v);
  return true;
}

uint64_t DefaultQueueBytes(uint64_t rate_bps, int64_t delay_ns) {
  // rate x RTT / 8, with RTT = 2 x one-way delay.
  long double bdp = static_cast<long double>(rate_bps) * 2.0L *
                    static_cast<long double>(delay_ns) / 8e9L;
  uint64_t bytes = bdp > 1e15L ? static_cast<uint64_t>(1e15)
                               : static_cast<uint64_t>(bdp);
  return bytes < kMinDefaultQueueBytes ? kMinDefaultQueueBytes : bytes;
}

bool ParseConfig(const std::string& text, Config* config, std::string* error) {
  Config c;
  std::map<int, PeerSpec> peers;
  std::map<std::string, int> link_index;
  std::vector<PendingPath> pending;
  bool mtu_seen = false;
  int mtu_line = 0;

  std::istringstream in(text);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    size_t hash = raw.find('#');
    if (hash != std::string::npos) raw.resize(hash);
    std::istringstream words(raw);
    std::vector<std::string> w;
    for (std::string word; words >> word;) w.push_back(word);
    if (w.empty()) continue;
    const std::string& kw = w[0];

    if (kw == "mtu") {
      uint64_t mtu = 0;
      if (w.size() != 2) {
        *error = LineError(line, "expected 'mtu <bytes>'");
        return false;
      }
      if (mtu_seen) {
        *error = LineError(line, "mtu given twice (first on line " +
                                     std::to_string(mtu_line) + ")");
        return false;
      }
      if (!ParseCount(w[1], &mtu) || mtu < 576 || mtu > 65535) {
        *error = LineError(line, "bad mtu '" + w[1] + "' (576 to 65535)");
        return false;
      }
      c.mtu = static_cast<int>(mtu);
      mtu_seen = true;
      mtu_line = line;
    } else if (kw == "peer") {
      if (w.size() != 4) {
        *error = LineError(
            line, "expected 'peer <index> <netns> <ipv4 address>'");
        return false;
      }
      PeerSpec p;
      uint64_t index = 0;
      if (!ParseCount(w[1], &index) || index > 4095) {
        *error = LineError(line, "bad peer index '" + w[1] + "'");
        return false;
      }
      p.index = static_cast<int>(index);
      p.netns = w[2];
      p.addr_text = w[3];
      p.line = line;
      in_addr a{};
      if (inet_pton(AF_INET, w[3].c_str(), &a) != 1) {
        *error = LineError(line, "bad IPv4 address '" + w[3] + "'");
        return false;
      }
      p.addr = ntohl(a.s_addr);
      if (peers.count(p.index)) {
        *error = LineError(line, "peer " + w[1] + " defined twice (first on line " +
                                     std::to_string(peers[p.index].line) + ")");
        return false;
      }
      for (const auto& [i, q] : peers) {
        if (q.netns == p.netns) {
          *error = LineError(line, "namespace '" + p.netns +
                                       "' already used by peer " +
                                       std::to_string(i));
          return false;
        }
        if (q.addr == p.addr) {
          *error = LineError(line, "address " + p.addr_text +
                                       " already used by peer " +
                                       std::to_string(i));
          return false;
        }
      }
      peers[p.index] = p;
    } else if (kw == "link") {
      if (w.size() != 5 && w.size() != 6) {
        *error = LineError(line,
                           "expected 'link <name> <rate bit/s> <one-way delay "
                           "us> <loss probability> <queue bytes>'");
        return false;
      }
      LinkSpec l;
      l.name = w[1];
      l.line = line;
      if (link_index.count(l.name)) {
        *error = LineError(line, "link '" + l.name + "' defined twice (first on line " +
                                     std::to_string(c.links[link_index[l.name]].line) + ")");
        return false;
      }
      if (!ParseRate(w[2], &l.rate_bps)) {
        *error = LineError(line, "bad rate '" + w[2] + "' of link '" + l.name + "'");
        return false;
      }
      double delay_us = 0;
      if (!ParseDouble(w[3], &delay_us) || delay_us < 0 || delay_us > 60e6) {
        *error = LineError(line, "bad delay '" + w[3] + "' (microseconds) of link '" +
                                     l.name + "'");
        return false;
      }
      l.delay_ns = static_cast<int64_t>(std::llround(delay_us * 1000.0));
      if (!ParseDouble(w[4], &l.loss) || l.loss < 0 || l.loss > 1) {
        *error = LineError(line, "bad loss probability '" + w[4] + "' of link '" +
                                     l.name + "' (0 to 1)");
        return false;
      }
      uint64_t queue = 0;
      if (w.size() == 6 && !ParseBytes(w[5], &queue)) {
        *error = LineError(line, "bad queue size '" + w[5] + "' of link '" +
                                     l.name + "'");
        return false;
      }
      l.queue_bytes = queue ? queue : DefaultQueueBytes(l.rate_bps, l.delay_ns);
      link_index[l.name] = static_cast<int>(c.links.size());
      c.links.push_back(l);
    } else if (kw == "path") {
      if (w.size() < 4) {
        *error = LineError(line,
                           "expected 'path <from index> <to index> <link> [<link> ...]'");
        return false;
      }
      uint64_t from = 0, to = 0;
      if (!ParseCount(w[1], &from) || from > 4095) {
        *error = LineError(line, "bad peer index '" + w[1] + "'");
        return false;
      }
      if (!ParseCount(w[2], &to) || to > 4095) {
        *error = LineError(line, "bad peer index '" + w[2] + "'");
        return false;
      }
      if (from == to) {
        *error = LineError(line, "path from peer " + w[1] + " to itself");
        return false;
      }
      PendingPath p{static_cast<int>(from), static_cast<int>(to),
                    std::vector<std::string>(w.begin() + 3, w.end()), line};
      std::set<std::string> seen;
      for (const auto& name : p.links) {
        if (!seen.insert(name).second) {
          *error = LineError(line, "link '" + name + "' appears twice in the path");
          return false;
        }
      }
      pending.push_back(std::move(p));
    } else {
      *error = LineError(line, "unknown keyword '" + kw +
                                   "' (expected mtu, peer, link or path)");
      return false;
    }
  }

  if (peers.empty()) {
    *error = "no peer defined";
    return false;
  }
  int n = static_cast<int>(peers.size());
  for (const auto& [i, p] : peers) {
    if (i >= n) {
      *error = LineError(p.line, "peer index " + std::to_string(i) +
                                     " but only " + std::to_string(n) +
                                     " peers: indices must be 0 to " +
                                     std::to_string(n - 1));
      return false;
    }
    c.peers.push_back(p);
  }
  for (const auto& l : c.links) {
    if (l.queue_bytes < static_cast<uint64_t>(c.mtu)) {
      *error = LineError(l.line, "queue of link '" + l.name + "' (" +
                                     std::to_string(l.queue_bytes) +
                                     " bytes) is smaller than the mtu (" +
                                     std::to_string(c.mtu) + ")");
      return false;
    }
  }
  c.paths.assign(n, std::vector<std::vector<int>>(n));
  std::vector<std::vector<int>> path_line(n, std::vector<int>(n, 0));
  for (const auto& p : pending) {
    if (p.from >= n || p.to >= n) {
      *error = LineError(p.line, "path names peer " +
                                     std::to_string(p.from >= n ? p.from : p.to) +
                                     ", which is not defined");
      return false;
    }
    if (path_line[p.from][p.to]) {
      *error = LineError(p.line, "second path " + std::to_string(p.from) + " -> " +
                                     std::to_string(p.to) + " (first on line " +
                                     std::to_string(path_line[p.from][p.to]) + ")");
      return false;
    }
    path_line[p.from][p.to] = p.line;
    for (const auto& name : p.links) {
      auto it = link_index.find(name);
      if (it == link_index.end()) {
        *error = LineError(p.line, "unknown link '" + name + "' in path " +
                                       std::to_string(p.from) + " -> " +
                                       std::to_string(p.to));
        return false;
      }
      c.paths[p.from][p.to].push_back(it->second);
    }
  }
  for (int a = 0; a < n; ++a) {
    for (int b = 0; b < n; ++b) {
      if (a != b && !path_line[a][b]) {
        *error = "missing path " + std::to_string(a) + " -> " + std::to_string(b) +
                 " (every ordered pair of peers needs one)";
        return false;
      }
    }
  }
  *config = std::move(c);
  return true;
}

bool LoadConfig(const std::string& path, Config* config, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!ParseConfig(text.str(), config, error)) {
    *error = path + ": " + *error;
    return false;
  }
  return true;
}

}  // namespace meridian::wanem
