#include "planner/probe_samples.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace meridian::planner {

namespace {

bool Good(double v) { return std::isfinite(v) && v > 0; }

}  // namespace

absl::StatusOr<std::vector<PairSample>> SamplesFromProbes(
    const std::vector<ProbeRow>& rows, const std::vector<Round>& rounds,
    uint32_t first_tag) {
  const int n = static_cast<int>(rows.size());
  std::vector<PairSample> out;
  for (size_t k = 0; k < rounds.size(); ++k) {
    for (const auto& [a, b] : rounds[k]) {
      if (a < 0 || b >= n || a >= b ||
          rows[a].rtt_s.size() != static_cast<size_t>(n) ||
          rows[b].rtt_s.size() != static_cast<size_t>(n) ||
          rows[a].recv_Bps.size() != static_cast<size_t>(n) ||
          rows[b].recv_Bps.size() != static_cast<size_t>(n)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "link probe: pair (", a, ", ", b, ") has no rows among ", n,
            " ranks"));
      }
      PairSample s;
      s.a = a;
      s.b = b;
      const double ra = rows[a].rtt_s[b], rb = rows[b].rtt_s[a];
      s.rtt_s = Good(ra) && Good(rb) ? std::min(ra, rb) : Good(ra) ? ra : rb;
      s.a_to_b_Bps = rows[b].recv_Bps[a];
      s.b_to_a_Bps = rows[a].recv_Bps[b];
      s.round = first_tag + static_cast<uint32_t>(k);
      if (!Good(s.rtt_s) || !Good(s.a_to_b_Bps) || !Good(s.b_to_a_Bps)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "link probe: no round trip or rate measured between ranks ", a,
            " and ", b));
      }
      out.push_back(s);
    }
  }
  return out;
}

absl::StatusOr<Topology> TopologyFromSamples(
    int n, const std::vector<PairSample>& samples) {
  std::vector<ProbeRow> rows(std::max(n, 0));
  for (ProbeRow& row : rows) {
    row.rtt_s.assign(rows.size(), -1);
    row.recv_Bps.assign(rows.size(), -1);
  }
  std::map<uint32_t, Round> by_tag;
  std::set<std::pair<int, int>> seen;
  for (const PairSample& s : samples) {
    if (s.a < 0 || s.a >= s.b || s.b >= n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "link samples: pair (", s.a, ", ", s.b, ") is not an ordered pair of ",
          n, " ranks"));
    }
    if (!seen.emplace(s.a, s.b).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "link samples: pair (", s.a, ", ", s.b, ") given twice"));
    }
    // Missing or non-positive values are TopologyFromProbes' to report.
    rows[s.a].rtt_s[s.b] = rows[s.b].rtt_s[s.a] = s.rtt_s;
    rows[s.b].recv_Bps[s.a] = s.a_to_b_Bps;
    rows[s.a].recv_Bps[s.b] = s.b_to_a_Bps;
    by_tag[s.round].emplace_back(s.a, s.b);
  }
  std::vector<Round> rounds;
  rounds.reserve(by_tag.size());
  for (auto& [tag, round] : by_tag) {
    std::sort(round.begin(), round.end());
    rounds.push_back(std::move(round));
  }
  return TopologyFromProbes(rows, rounds);
}

std::vector<Round> RoundsWithout(const std::vector<Round>& rounds,
                                 const std::vector<PairSample>& known) {
  std::set<std::pair<int, int>> have;
  for (const PairSample& s : known) have.emplace(s.a, s.b);
  std::vector<Round> out;
  for (const Round& round : rounds) {
    Round left;
    for (const auto& pair : round) {
      if (have.count(pair) == 0) left.push_back(pair);
    }
    if (!left.empty()) out.push_back(std::move(left));
  }
  return out;
}

uint32_t CompactRoundTags(std::vector<PairSample>* samples) {
  std::vector<uint32_t> tags;
  for (const PairSample& s : *samples) tags.push_back(s.round);
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  for (PairSample& s : *samples) {
    s.round = static_cast<uint32_t>(
        std::lower_bound(tags.begin(), tags.end(), s.round) - tags.begin());
  }
  return static_cast<uint32_t>(tags.size());
}

}  // namespace meridian::planner
