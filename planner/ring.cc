// Ring algorithms, pipelined in chunks, along the ring order of the request
// (PlanRequest::order: position -> rank; rank order when empty).  Next and
// previous are by position; which rank owns which part of a reduce-scatter
// or all-gather stays by rank, so only the route changes with the order.
//
// Data is cut into world_size segments (sizes differ by at most one element
// when the count does not divide) and each segment into chunks; every chunk
// travels the ring independently, so sending, receiving and reducing of
// different chunks overlap.  Each segment has at least one chunk, even when
// empty: the empty message still carries the operation descriptor, so every
// rank checks its neighbour's call and a zero-count operation still
// synchronises like the real one.
//
// Reduce-scatter phase: at step s the rank at position p sends segment
// p-s-1 and receives segment p-s-2, reducing it with its own contribution;
// after world_size-1 steps it holds the final value of segment p, computed
// once there (with the kAvg division).  The all-gather phase then forwards
// those exact bytes around the ring, so every rank ends with byte-identical
// results.  (ring_blocks.h has both phases for any member list.)
#include <cassert>

#include "planner/plan.h"
#include "planner/ring_blocks.h"

namespace meridian::planner {
namespace {

int Mod(int a, int n) { return ((a % n) + n) % n; }

BufRef In(uint64_t off) { return {BufferId::kInput, off}; }
BufRef Out(uint64_t off) { return {BufferId::kOutput, off}; }
BufRef Scratch(uint64_t off) { return {BufferId::kScratch, off}; }

// The ring as positions.
struct Route {
  std::vector<int32_t> order;  // position -> rank
  int pos = 0;                 // this rank's position
  RingMembers members() const { return {&order, pos}; }
  int rank_at(int position) const {
    return order[Mod(position, static_cast<int>(order.size()))];
  }
  int position_of(int rank) const { return PositionOf(order, rank); }
};

Route MakeRoute(const PlanRequest& req) {
  Route route;
  route.order = OrderOf(req);
  route.pos = route.position_of(req.rank);
  return route;
}

// Segment of position p: the part that the rank at p receives (reduce-
// scatter) or contributes (all-gather), at that rank's offset.
std::vector<Chunks> SegmentsByRank(const Route& route, uint64_t per, uint64_t chunk) {
  std::vector<Chunks> segments(route.order.size());
  for (size_t p = 0; p < route.order.size(); ++p) {
    segments[p] = ChunksFrom(route.order[p] * per, per, chunk);
  }
  return segments;
}

// Partials live in scratch (the whole input's size) and only this rank's
// own segment reaches the output, at offset 0.
void BuildRingReduceScatter(const PlanRequest& req, const Route& route, Plan* plan) {
  const uint64_t per = req.count;
  const std::vector<Chunks> segments = SegmentsByRank(route, per, req.chunk_elems);
  plan->scratch_elems = per * req.world_size;
  RingReduceScatterArgs rs;
  rs.ring = route.members();
  rs.segments = &segments;
  rs.contribution = {BufferId::kInput, 0};
  rs.partial = {BufferId::kScratch, 0};
  rs.final_value = {BufferId::kOutput, -static_cast<int64_t>(req.rank * per)};
  rs.finalize = req.average;
  PlanBuilder b(plan);
  AppendRingReduceScatter(rs, &b);
}

void BuildRingAllGather(const PlanRequest& req, const Route& route, Plan* plan) {
  const uint64_t per = req.count, mine = req.rank * per;
  PlanBuilder b(plan);
  if (!req.in_place && per > 0) b.Copy(In(0), Out(mine), per);
  const std::vector<Chunks> segments = SegmentsByRank(route, per, req.chunk_elems);
  RingAllGatherArgs ag;
  ag.ring = route.members();
  ag.segments = &segments;
  // The first hop sends straight from the input (it is Out[mine] in place).
  ag.own_source = req.in_place ? BufView{BufferId::kOutput, 0}
                               : BufView{BufferId::kInput, -static_cast<int64_t>(mine)};
  ag.dest = {BufferId::kOutput, 0};
  AppendRingAllGather(ag, &b);
}

// Pipelined chain root -> root+1 -> ... -> root-1 (positions).
void BuildRingBroadcast(const PlanRequest& req, const Route& route, Plan* plan) {
  const int n = req.world_size;
  const int next = route.rank_at(route.pos + 1), prev = route.rank_at(route.pos - 1);
  const int pos = Mod(route.pos - route.position_of(req.root), n);
  const Chunks chunks = ChunksFrom(0, req.count, req.chunk_elems);
  PlanBuilder b(plan);
  // The chain's ends exchange an empty message (sent at once, so it costs
  // no latency) that closes the ring: the root, which otherwise only sends,
  // also checks a neighbour's descriptor.
  if (pos == n - 1) b.Send(next, Out(0), 0);
  if (pos == 0) {
    b.Recv(prev, Out(0), 0);
    if (!req.in_place && req.count > 0) b.Copy(In(0), Out(0), req.count);
    for (const Chunk& c : chunks) b.Send(next, In(c.offset), c.count);
    return;
  }
  for (const Chunk& c : chunks) {
    const int32_t got = b.Recv(prev, Out(c.offset), c.count);
    if (pos < n - 1) b.Send(next, Out(c.offset), c.count, got);
  }
}

// Pipelined chain root+1 -> root+2 -> ... -> root (positions), reducing on
// the way.
void BuildRingReduce(const PlanRequest& req, const Route& route, Plan* plan) {
  const int n = req.world_size;
  const int next = route.rank_at(route.pos + 1), prev = route.rank_at(route.pos - 1);
  const int pos = Mod(route.pos - route.position_of(req.root) - 1, n);  // n-1: the root
  const Chunks chunks = ChunksFrom(0, req.count, req.chunk_elems);
  PlanBuilder b(plan);
  // In place on the root, the input is the output buffer.
  auto input = [&](uint64_t off) { return req.in_place ? Out(off) : In(off); };
  if (pos > 0 && pos < n - 1) plan->scratch_elems = req.count;
  // Closing the ring, as in broadcast: the first sender checks the root.
  if (pos == n - 1) b.Send(next, Out(0), 0);
  if (pos == 0) b.Recv(prev, Out(0), 0);
  for (const Chunk& c : chunks) {
    if (pos == 0) {
      b.Send(next, input(c.offset), c.count);
    } else if (pos < n - 1) {
      const int32_t red = b.RecvReduce(prev, input(c.offset), Scratch(c.offset), c.count, false);
      b.Send(next, Scratch(c.offset), c.count, red);
    } else {
      b.RecvReduce(prev, input(c.offset), Out(c.offset), c.count, req.average);
    }
  }
}

}  // namespace

Plan BuildRingPlan(const PlanRequest& req) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  assert(ValidateOrder(req.order, req.world_size).ok());
  Plan plan;
  plan.collective = req.collective;
  plan.rank = req.rank;
  plan.world_size = req.world_size;
  if (req.world_size == 1) {
    // Alone: the result is the input.  kAvg divides by one: nothing to do.
    uint64_t elems = req.count;
    if (req.collective == Collective::kBarrier) elems = 0;
    if (!req.in_place && elems > 0) PlanBuilder(&plan).Copy(In(0), Out(0), elems);
    plan.Finalize();
    return plan;
  }
  const Route route = MakeRoute(req);
  switch (req.collective) {
    case Collective::kAllReduce:
    case Collective::kBarrier: {
      PlanBuilder b(&plan);
      AppendRingAllReduce(route.members(), 0, req.count, req.chunk_elems, req.in_place,
                          req.average, /*window=*/0, &b);
      break;
    }
    case Collective::kReduceScatter:
      BuildRingReduceScatter(req, route, &plan);
      break;
    case Collective::kAllGather:
      BuildRingAllGather(req, route, &plan);
      break;
    case Collective::kBroadcast:
      BuildRingBroadcast(req, route, &plan);
      break;
    case Collective::kReduce:
      BuildRingReduce(req, route, &plan);
      break;
    case Collective::kTransfer:  // planned by BuildTransferPlan
      break;
  }
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
