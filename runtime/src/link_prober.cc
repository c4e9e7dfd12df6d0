#include "runtime/src/link_prober.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "base/status_macros.h"
#include "planner/fan_in_probe.h"
#include "runtime/src/compute_calibration.h"

namespace meridian::runtime {

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Minimum round trip over the pings this rank could time (see ProbeSteps):
// from handing a ping (or pong) to the link to the arrival of the answer.
double RoundTrip(const planner::ProbeSteps& s, const std::vector<Clock::time_point>& done,
                 const std::vector<Clock::time_point>& posted) {
  double best = std::numeric_limits<double>::infinity();
  const size_t n = s.ping_pong.size();
  for (size_t k = 0; k + 1 < n; k += 2) {
    Clock::time_point from, to;
    if (s.initiator) {
      from = posted[s.ping_pong[k]];
      to = done[s.ping_pong[k + 1]];
    } else {
      if (k + 2 >= n) break;  // the last pong has no ping after it
      from = posted[s.ping_pong[k + 1]];
      to = done[s.ping_pong[k + 2]];
    }
    best = std::min(best, Seconds(from, to));
  }
  return best;
}

// Rate of the bulk message from the partner, timed from the moment the
// partner started sending it to the arrival of its last byte.  Chunks do
// not arrive one after another (the link stripes them over all its
// connections at once), so only the whole transfer can be timed; its start
// is pinned by the last ping-pong, after which both sides send at once:
//   initiator: the partner started one-way before the last pong arrived
//              here, and the last byte took one-way to come: t_last - t_pong;
//   responder: the partner started one-way after the last pong left here:
//              t_last - t_pong_sent - rtt.
double ReceiveRate(const planner::ProbeSteps& s, const std::vector<Clock::time_point>& done,
                   const std::vector<Clock::time_point>& posted, double rtt_s,
                   uint64_t bytes) {
  Clock::time_point last{};
  for (int32_t idx : s.bulk_recvs) last = std::max(last, done[idx]);
  const int32_t pong = s.ping_pong.back();
  double span = s.initiator ? Seconds(done[pong], last)
                            : Seconds(posted[pong], last) - (std::isfinite(rtt_s) ? rtt_s : 0);
  return static_cast<double>(bytes) / std::max(span, 1e-6);
}

// The incast term (planner/fan_in_probe.h): the senders the topology
// allows push their bulk to one receiver at once; the receiver times the
// whole arrival from its "go" (less the longest round trip: the go's way
// out and the last byte's way back) and turns the goodput into the penalty.
// Every rank learns it from an all-gather of one value per rank.  Returns
// -1 (keep the default) when no rank has two senders fast enough.
absl::StatusOr<double> MeasureIncast(int rank, const planner::Topology& topology,
                                     const planner::ProbeShape& shape,
                                     const std::function<int(int)>& connections,
                                     collectives::Executor* executor,
                                     const RunOperation& run) {
  const int n = topology.peers;
  const planner::FanIn fan_in = planner::ChooseFanIn(topology);
  if (!fan_in.valid()) return -1.0;
  // Each pair sizes its bulk from its own link, as the pair probe does; a
  // rank outside a pair never reads that pair's entry.  The total stays
  // within what one pair probe may move.
  const size_t k = fan_in.senders.size();
  const uint64_t cap = std::max<uint64_t>(shape.bulk_bytes, shape.max_bulk_bytes) / k;
  std::vector<uint64_t> bytes(k, shape.bulk_bytes);
  uint64_t total = 0;
  for (size_t i = 0; i < k; ++i) {
    const int s = fan_in.senders[i];
    if (rank == fan_in.receiver || rank == s) {
      const int peer = rank == s ? fan_in.receiver : s;
      bytes[i] = std::min(cap, planner::PairBulkBytes(shape, connections(peer)));
    }
    total += bytes[i];
  }
  planner::FanInSteps steps;
  auto plan = std::make_shared<const planner::Plan>(
      planner::BuildFanInPlan(rank, n, fan_in, bytes, shape.bulk_chunks, &steps));
  std::vector<uint8_t> send(*std::max_element(bytes.begin(), bytes.end()), 0x3c);
  std::vector<uint8_t> recv(total + 1);
  collectives::OpSpec spec;
  spec.collective = planner::Collective::kTransfer;
  spec.dtype = math::DataType::kUint8;
  spec.count = shape.bulk_bytes;
  executor->RecordStepTimes(true);
  absl::Status st = run(spec, plan, send.data(), recv.data());
  executor->RecordStepTimes(false);
  MDN_RETURN_IF_ERROR(st);
  double mine = -1;
  if (steps.receiver) {
    const auto& done = executor->step_times();
    const auto& posted = executor->post_times();
    Clock::time_point start = posted[steps.go_sends.front()], last{};
    for (int32_t g : steps.go_sends) start = std::min(start, posted[g]);
    for (int32_t r : steps.bulk_recvs) last = std::max(last, done[r]);
    double rtt = 0;
    for (int s : fan_in.senders) {
      rtt = std::max(rtt, topology.latency(s, rank) + topology.latency(rank, s));
    }
    const double span = std::max(Seconds(start, last) - rtt, 1e-6);
    mine = planner::IncastPenaltyFromFanIn(topology.ingress(rank),
                                           static_cast<double>(total) / span,
                                           static_cast<int>(k));
  }
  MDN_ASSIGN_OR_RETURN(std::vector<double> all, AllGatherDoubles(rank, n, {mine}, run));
  return all[fan_in.receiver];
}

}  // namespace

absl::StatusOr<std::vector<double>> AllGatherDoubles(int rank, int world_size,
                                                     const std::vector<double>& mine,
                                                     const RunOperation& run) {
  planner::PlanRequest gather;
  gather.collective = planner::Collective::kAllGather;
  gather.rank = rank;
  gather.world_size = world_size;
  gather.count = mine.size();
  gather.chunk_elems = mine.size();
  std::vector<double> all(mine.size() * static_cast<size_t>(world_size));
  collectives::OpSpec spec;
  spec.collective = planner::Collective::kAllGather;
  spec.dtype = math::DataType::kFloat64;
  spec.count = mine.size();
  MDN_RETURN_IF_ERROR(run(spec, std::make_shared<const planner::Plan>(planner::BuildRingPlan(gather)),
                          mine.data(), all.data()));
  return all;
}

absl::StatusOr<MeasuredNetwork> ProbeLinks(int rank, int world_size,
                                           const planner::ProbeShape& shape,
                                           std::vector<planner::PairSample> known,
                                           const std::function<int(int)>& connections,
                                           collectives::Executor* executor,
                                           const RunOperation& run) {
  const int n = world_size;
  // Only the pairs nobody has measured: for a joiner, its own pairs (about
  // one per round); new rounds take tags after the known ones, so they are
  // never taken for rounds that ran at the same time as older ones.
  const uint32_t first_tag = planner::CompactRoundTags(&known);
  const std::vector<planner::Round> rounds =
      planner::RoundsWithout(planner::RoundRobinRounds(n), known);
  // Row of this rank: n round trips, n receive rates, then its reduce and
  // copy rates.
  std::vector<double> row(2 * static_cast<size_t>(n) + 2, -1.0);
  const ComputeRates compute = MeasureComputeRates();
  row[2 * n] = compute.reduce_Bps;
  row[2 * n + 1] = compute.copy_Bps;
  uint64_t largest = shape.bulk_bytes;
  for (int p = 0; p < n; ++p) {
    if (p != rank) largest = std::max(largest, planner::PairBulkBytes(shape, connections(p)));
  }
  std::vector<uint8_t> send(largest, 0x5a), recv(largest + 1);
  collectives::OpSpec spec;
  spec.collective = planner::Collective::kTransfer;
  spec.dtype = math::DataType::kUint8;
  spec.count = shape.bulk_bytes;
  executor->RecordStepTimes(true);
  auto fail = [&](absl::Status st) {
    executor->RecordStepTimes(false);
    return st;
  };
  // Latency pass: every round's ping-pong while no bulk moves anywhere
  // (planner/probe.h).
  for (const planner::Round& round : rounds) {
    planner::ProbeSteps steps;
    auto plan = std::make_shared<const planner::Plan>(
        planner::BuildPingPlan(rank, n, round, shape.pings, &steps));
    absl::Status st = run(spec, plan, send.data(), recv.data());
    if (!st.ok()) return fail(st);
    if (steps.partner >= 0) {
      row[steps.partner] = RoundTrip(steps, executor->step_times(), executor->post_times());
    }
  }
  for (const planner::Round& round : rounds) {
    // Every pair of a round starts its bulk together: pairs that cross one
    // trunk are how its capacity is measured (TopologyFromProbes), and a
    // pair that ran alone because its round-mates were still busy with the
    // round before would credit the trunk with bandwidth it shared with
    // nobody.  The first barrier also keeps the latency pass clear of bulk.
    absl::StatusOr<std::vector<double>> barrier = AllGatherDoubles(rank, n, {0.0}, run);
    if (!barrier.ok()) return fail(barrier.status());
    // This rank's pair in the round, if any, sizes its bulk from its link;
    // one ping-pong pins when the partner starts sending.
    planner::ProbeShape pair = shape;
    pair.pings = 1;
    for (const auto& [a, b] : round) {
      if (a == rank || b == rank) {
        pair.bulk_bytes = planner::PairBulkBytes(shape, connections(a == rank ? b : a));
      }
    }
    planner::ProbeSteps steps;
    auto plan = std::make_shared<const planner::Plan>(
        planner::BuildProbePlan(rank, n, round, pair, &steps));
    absl::Status st = run(spec, plan, send.data(), recv.data());
    if (!st.ok()) return fail(st);
    if (steps.partner < 0) continue;
    const auto& t = executor->step_times();
    row[steps.partner] = std::min(row[steps.partner], RoundTrip(steps, t, executor->post_times()));
    row[n + steps.partner] =
        ReceiveRate(steps, t, executor->post_times(), row[steps.partner], pair.bulk_bytes);
  }
  executor->RecordStepTimes(false);

  // Everyone's rows, in rank order, on every rank.
  MDN_ASSIGN_OR_RETURN(std::vector<double> all, AllGatherDoubles(rank, n, row, run));
  std::vector<planner::ProbeRow> rows(n);
  std::vector<double> reduce(n), copy(n);
  for (int r = 0; r < n; ++r) {
    const double* p = all.data() + static_cast<size_t>(r) * row.size();
    rows[r].rtt_s.assign(p, p + n);
    rows[r].recv_Bps.assign(p + n, p + 2 * n);
    reduce[r] = p[2 * n];
    copy[r] = p[2 * n + 1];
  }
  MeasuredNetwork out;
  MDN_ASSIGN_OR_RETURN(std::vector<planner::PairSample> probed,
                       planner::SamplesFromProbes(rows, rounds, first_tag));
  out.probed_pairs = static_cast<int>(probed.size());
  out.rounds = static_cast<int>(rounds.size());
  out.samples = std::move(known);
  out.samples.insert(out.samples.end(), probed.begin(), probed.end());
  MDN_ASSIGN_OR_RETURN(out.topology, planner::TopologyFromSamples(n, out.samples));
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  out.cost.alpha_s = 0;
  out.cost.gamma_Bps = median(reduce);
  out.cost.mem_Bps = median(copy);
  MDN_ASSIGN_OR_RETURN(double incast,
                       MeasureIncast(rank, out.topology, shape, connections, executor, run));
  if (incast >= 0) out.cost.incast_penalty = incast;
  return out;
}

}  // namespace meridian::runtime
