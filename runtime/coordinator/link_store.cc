#include "runtime/coordinator/link_store.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "absl/strings/str_cat.h"

namespace meridian::coordinator {

namespace {

bool Positive(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

absl::Status LinkStore::Accept(const LinkReportMsg& report,
                               const std::vector<transport::HostPort>& members,
                               const std::vector<bool>& live) {
  const size_t n = members.size();
  if (report.members.size() != n || live.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("the report lists ", report.members.size(),
                     " members; the epoch has ", n));
  }
  std::vector<std::string> key(n);
  for (size_t r = 0; r < n; ++r) {
    key[r] = members[r].ToString();
    // A lost member's slot may hold nothing to compare with (a restarted
    // coordinator that never heard from it); its pairs are skipped anyway.
    if (live[r] && report.members[r].ToString() != key[r]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the report has ", report.members[r].ToString(), " as rank ", r,
          "; this epoch's rank ", r, " is ", key[r]));
    }
  }
  if (!(report.links.gamma_Bps == 0 || Positive(report.links.gamma_Bps)) ||
      !(report.links.mem_Bps == 0 || Positive(report.links.mem_Bps))) {
    return absl::InvalidArgumentError("the report's compute rates are not finite");
  }
  if (!(report.links.incast_penalty == -1 ||
        (report.links.incast_penalty >= 0 && report.links.incast_penalty <= 1))) {
    return absl::InvalidArgumentError("the report's incast penalty is outside [0, 1]");
  }
  std::map<Key, Entry> fresh;
  for (const LinkPair& p : report.links.pairs) {
    if (p.a < 0 || p.a >= p.b || static_cast<size_t>(p.b) >= n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the report has pair (", p.a, ", ", p.b, ") among ", n, " members"));
    }
    if (!Positive(p.rtt_s) || !Positive(p.a_to_b_Bps) || !Positive(p.b_to_a_Bps)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the report's pair (", p.a, ", ", p.b,
          ") has a value that is not a positive finite number"));
    }
    if (!live[p.a] || !live[p.b]) continue;
    const std::string& ka = key[p.a];
    const std::string& kb = key[p.b];
    if (ka == kb) {
      return absl::InvalidArgumentError(
          absl::StrCat("ranks ", p.a, " and ", p.b, " share the address ", ka));
    }
    Entry e;
    e.rtt_s = p.rtt_s;
    const bool in_order = ka < kb;
    e.forward_Bps = in_order ? p.a_to_b_Bps : p.b_to_a_Bps;
    e.backward_Bps = in_order ? p.b_to_a_Bps : p.a_to_b_Bps;
    e.round = p.round;
    fresh[in_order ? Key{ka, kb} : Key{kb, ka}] = e;
  }
  // Older pairs keep their rounds apart from the report's: pairs measured
  // in different epochs never ran at the same time.  Tags are then
  // renumbered from 0 so that they stay small.
  std::map<Key, Entry> kept;
  for (const auto& [k, e] : pairs_) {
    if (fresh.count(k) == 0) kept.emplace(k, e);
  }
  if (fresh.size() + kept.size() > kMaxLinkPairs) kept.clear();
  uint64_t base = 0;
  for (const auto& [k, e] : kept) base = std::max<uint64_t>(base, uint64_t{e.round} + 1);
  std::map<uint64_t, uint32_t> renumber;
  for (const auto& [k, e] : kept) renumber[e.round] = 0;
  for (const auto& [k, e] : fresh) renumber[base + e.round] = 0;
  uint32_t next = 0;
  for (auto& [tag, to] : renumber) to = next++;
  pairs_.clear();
  for (auto& [k, e] : kept) {
    e.round = renumber[e.round];
    pairs_.emplace(k, e);
  }
  for (auto& [k, e] : fresh) {
    e.round = renumber[base + e.round];
    pairs_.emplace(k, e);
  }
  if (report.links.gamma_Bps > 0) gamma_Bps_ = report.links.gamma_Bps;
  if (report.links.mem_Bps > 0) mem_Bps_ = report.links.mem_Bps;
  if (report.links.incast_penalty >= 0) incast_penalty_ = report.links.incast_penalty;
  return absl::OkStatus();
}

void LinkStore::Forget(const transport::HostPort& member) {
  const std::string k = member.ToString();
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    it = it->first.first == k || it->first.second == k ? pairs_.erase(it)
                                                        : std::next(it);
  }
}

void LinkStore::Retain(const std::vector<transport::HostPort>& members) {
  std::unordered_map<std::string, int> in;
  for (const transport::HostPort& m : members) in.emplace(m.ToString(), 0);
  for (auto it = pairs_.begin(); it != pairs_.end();) {
    const bool both = in.count(it->first.first) && in.count(it->first.second);
    it = both ? std::next(it) : pairs_.erase(it);
  }
}

void LinkStore::Clear() {
  pairs_.clear();
  gamma_Bps_ = mem_Bps_ = 0;
  incast_penalty_ = -1;
}

LinkMatrix LinkStore::For(const std::vector<transport::HostPort>& peers) const {
  LinkMatrix out;
  if (pairs_.empty()) return out;
  std::unordered_map<std::string, int> rank_of;
  for (size_t r = 0; r < peers.size(); ++r) {
    if (!rank_of.emplace(peers[r].ToString(), static_cast<int>(r)).second) {
      return out;  // two peers, one address
    }
  }
  for (const auto& [k, e] : pairs_) {
    auto first = rank_of.find(k.first);
    auto second = rank_of.find(k.second);
    if (first == rank_of.end() || second == rank_of.end()) continue;
    LinkPair p;
    const bool in_order = first->second < second->second;
    p.a = std::min(first->second, second->second);
    p.b = std::max(first->second, second->second);
    p.rtt_s = e.rtt_s;
    p.a_to_b_Bps = in_order ? e.forward_Bps : e.backward_Bps;
    p.b_to_a_Bps = in_order ? e.backward_Bps : e.forward_Bps;
    p.round = e.round;
    out.pairs.push_back(p);
  }
  if (out.pairs.empty()) return out;
  std::sort(out.pairs.begin(), out.pairs.end(), [](const LinkPair& x, const LinkPair& y) {
    return std::make_pair(x.a, x.b) < std::make_pair(y.a, y.b);
  });
  out.gamma_Bps = gamma_Bps_;
  out.mem_Bps = mem_Bps_;
  out.incast_penalty = incast_penalty_;
  return out;
}

}  // namespace meridian::coordinator
