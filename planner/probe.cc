#include "planner/probe.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace meridian::planner {

std::vector<Round> RoundRobinRounds(int n) {
  std::vector<Round> rounds;
  if (n < 2) return rounds;
  // Circle method over an even number of seats; with odd n the extra seat
  // is a bye.  Seat m-1 stays put while the others rotate.
  const int m = n % 2 == 0 ? n : n + 1;
  for (int r = 0; r < m - 1; ++r) {
    Round round;
    auto add = [&](int a, int b) {
      if (a >= n || b >= n) return;  // the bye
      round.emplace_back(std::min(a, b), std::max(a, b));
    };
    add(r, m - 1);
    for (int k = 1; k < m / 2; ++k) {
      add((r + k) % (m - 1), (r - k + (m - 1)) % (m - 1));
    }
    std::sort(round.begin(), round.end());
    rounds.push_back(std::move(round));
  }
  return rounds;
}

uint64_t PairBulkBytes(const ProbeShape& shape, int connections) {
  const uint64_t k = static_cast<uint64_t>(std::max(1, connections));
  const uint64_t cap = std::max(shape.bulk_bytes, shape.max_bulk_bytes);
  return std::min(cap, shape.bulk_bytes * k);
}

namespace {

// Appends one step of a probe plan; returns its index.
int32_t Append(Plan* plan, StepKind kind, int peer, BufRef src, BufRef dst, uint64_t count,
               int32_t dep) {
  plan->steps.push_back(BuildStep(kind, peer, src, dst, count, false, dep));
  return static_cast<int32_t>(plan->steps.size() - 1);
}

// The pairing of `rank` in `round` and the ping-pong that starts every
// probe plan: `pings` exchanges with the partner, the pongs landing at
// `pong_slot`.  Returns the last ping-pong step (-1 when the rank sits the
// round out).
int32_t AddPingPong(int rank, const Round& round, int pings, BufRef pong_slot, Plan* plan,
                    ProbeSteps* steps) {
  *steps = ProbeSteps();
  for (const auto& [a, b] : round) {
    if (a == rank) steps->partner = b, steps->initiator = true;
    if (b == rank) steps->partner = a, steps->initiator = false;
  }
  if (steps->partner < 0) return -1;
  auto add = [&](StepKind kind, BufRef src, BufRef dst, int32_t dep) {
    return Append(plan, kind, steps->partner, src, dst, 1, dep);
  };
  const BufRef in0{BufferId::kInput, 0};
  int32_t last = -1;
  for (int k = 0; k < pings; ++k) {
    if (steps->initiator) {
      int32_t ping = add(StepKind::kSend, in0, {}, last);
      last = add(StepKind::kRecv, {}, pong_slot, -1);
      steps->ping_pong.push_back(ping);
      steps->ping_pong.push_back(last);
    } else {
      int32_t got = add(StepKind::kRecv, {}, pong_slot, -1);
      last = add(StepKind::kSend, in0, {}, got);
      steps->ping_pong.push_back(got);
      steps->ping_pong.push_back(last);
    }
  }
  return last;
}

Plan EmptyTransferPlan(int rank, int world_size) {
  Plan plan;
  plan.collective = Collective::kTransfer;
  plan.rank = rank;
  plan.world_size = world_size;
  return plan;
}

}  // namespace

Plan BuildPingPlan(int rank, int world_size, const Round& round, int pings,
                   ProbeSteps* steps) {
  assert(pings >= 1);
  Plan plan = EmptyTransferPlan(rank, world_size);
  AddPingPong(rank, round, pings, {BufferId::kOutput, 0}, &plan, steps);
  plan.Finalize();
  return plan;
}

Plan BuildProbePlan(int rank, int world_size, const Round& round,
                    const ProbeShape& shape, ProbeSteps* steps) {
  assert(shape.pings >= 1 && shape.bulk_chunks >= 2);
  assert(shape.bulk_bytes >= static_cast<uint64_t>(shape.bulk_chunks));
  Plan plan = EmptyTransferPlan(rank, world_size);
  // Pongs land past the bulk area, so they never touch bulk bytes.
  const int32_t last = AddPingPong(rank, round, shape.pings,
                                   {BufferId::kOutput, shape.bulk_bytes}, &plan, steps);
  if (steps->partner >= 0) {
    auto add = [&](StepKind kind, BufRef src, BufRef dst, uint64_t count, int32_t dep) {
      return Append(&plan, kind, steps->partner, src, dst, count, dep);
    };
    // Both directions at once, after the last ping-pong.
    const uint64_t chunks = static_cast<uint64_t>(shape.bulk_chunks);
    for (uint64_t c = 0; c < chunks; ++c) {
      uint64_t begin = shape.bulk_bytes * c / chunks;
      uint64_t end = shape.bulk_bytes * (c + 1) / chunks;
      add(StepKind::kSend, {BufferId::kInput, begin}, {}, end - begin, last);
    }
    for (uint64_t c = 0; c < chunks; ++c) {
      uint64_t begin = shape.bulk_bytes * c / chunks;
      uint64_t end = shape.bulk_bytes * (c + 1) / chunks;
      steps->bulk_recvs.push_back(add(StepKind::kRecv, {},
                                      {BufferId::kOutput, begin}, end - begin,
                                      -1));
    }
  }
  plan.Finalize();
  return plan;
}

namespace {

absl::Status Missing(const char* what, int i, int j) {
  return absl::InvalidArgumentError(
      absl::StrCat("link probe: no ", what, " measured between ranks ", i,
                   " and ", j));
}

}  // namespace

// One NIC per peer: all of a peer's flows share what its fastest single
// flow reached.  On a LAN one TCP flow (or our K of them) fills the NIC, so
// the fastest pair rate is the NIC's; behind a slow access link every pair
// rate is that link's.  Without this the model lets a tree node or a
// straggler send its full pair rate to each of several peers at once.
void SetAccessLimits(Topology* t) {
  const int n = t->peers;
  t->egress_Bps.assign(n, 0);
  t->ingress_Bps.assign(n, 0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      const double bw = t->bandwidth(i, j);
      t->egress_Bps[i] = std::max(t->egress_Bps[i], bw);
      t->ingress_Bps[j] = std::max(t->ingress_Bps[j], bw);
    }
  }
}

absl::StatusOr<Topology> TopologyFromProbes(const std::vector<ProbeRow>& rows,
                                            const std::vector<Round>& rounds) {
  const int n = static_cast<int>(rows.size());
  for (int i = 0; i < n; ++i) {
    if (rows[i].rtt_s.size() != static_cast<size_t>(n) ||
        rows[i].recv_Bps.size() != static_cast<size_t>(n)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "link probe: rank ", i, " reported ", rows[i].rtt_s.size(),
          " round trips and ", rows[i].recv_Bps.size(), " rates for ", n,
          " peers"));
    }
  }
  Topology t;
  t.peers = n;
  t.latency_s.assign(static_cast<size_t>(n) * n, 0);
  t.bandwidth_Bps.assign(static_cast<size_t>(n) * n, 0);
  auto good = [](double v) { return std::isfinite(v) && v > 0; };
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j) continue;
      double a = rows[i].rtt_s[j], b = rows[j].rtt_s[i];
      double rtt = good(a) && good(b) ? std::min(a, b) : good(a) ? a : b;
      if (!good(rtt)) return Missing("round trip", i, j);
      t.latency_s[static_cast<size_t>(i) * n + j] = rtt / 2;
      double bw = rows[j].recv_Bps[i];
      if (!good(bw)) return Missing("rate", i, j);
      t.bandwidth_Bps[static_cast<size_t>(i) * n + j] = bw;
    }
  }
  t.region_of = ClusterRegions(t);
  SetAccessLimits(&t);
  const int regions = t.num_regions();
  if (regions <= 1) return t;

  // Trunk estimates from the flows that crossed each one together: k flows
  // x the slowest one's rate, kept within [the fastest one's rate, the sum
  // of their rates].  The sum alone overestimates: the pairs of a round do
  // not start at the same instant (each starts after its own ping-pong), so
  // each pair's average includes time it shared the trunk with fewer
  // others (predictions of the emulated transatlantic-6 trunk came out
  // ~20 % fast).  The slowest pair ran shared the longest, so its rate is
  // closest to an equal share; but a flow held back by its own access link
  // would make k x slowest too low, and no single flow beats the trunk.
  const size_t rr = static_cast<size_t>(regions) * regions;
  t.trunk_Bps.assign(rr, 0);
  std::vector<double> measured = t.bandwidth_Bps;
  std::vector<double> credit = measured;
  for (const Round& round : rounds) {
    std::vector<double> slowest(rr, std::numeric_limits<double>::infinity());
    std::vector<double> fastest(rr, 0), sum(rr, 0);
    std::vector<int> flows(rr, 0);
    auto trunk_of = [&](int from, int to) {
      return static_cast<size_t>(t.region(from)) * regions + t.region(to);
    };
    for (const auto& [a, b] : round) {
      if (a >= n || b >= n || t.region(a) == t.region(b)) continue;
      for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
        const size_t k = trunk_of(from, to);
        const double rate = measured[static_cast<size_t>(from) * n + to];
        slowest[k] = std::min(slowest[k], rate);
        fastest[k] = std::max(fastest[k], rate);
        sum[k] += rate;
        ++flows[k];
      }
    }
    for (size_t k = 0; k < rr; ++k) {
      if (flows[k] == 0) continue;
      const double shared = std::clamp(flows[k] * slowest[k], fastest[k], sum[k]);
      t.trunk_Bps[k] = std::max(t.trunk_Bps[k], shared);
    }
    for (const auto& [a, b] : round) {
      if (a >= n || b >= n || t.region(a) == t.region(b)) continue;
      for (auto [from, to] : {std::pair{a, b}, std::pair{b, a}}) {
        const size_t idx = static_cast<size_t>(from) * n + to;
        credit[idx] = measured[idx] * flows[trunk_of(from, to)];
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      if (i == j || t.region(i) == t.region(j)) continue;
      const size_t idx = static_cast<size_t>(i) * n + j;
      const double trunk =
          t.trunk_Bps[static_cast<size_t>(t.region(i)) * regions + t.region(j)];
      t.bandwidth_Bps[idx] = std::min(credit[idx], trunk);
    }
  }
  SetAccessLimits(&t);
  return t;
}

}  // namespace meridian::planner
