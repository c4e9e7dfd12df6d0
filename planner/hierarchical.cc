// Hierarchical all-reduce as three compositions of ring blocks.
//
// Chunks are cut on one absolute grid (multiples of chunk_elems), so the
// finer pieces of a later phase (a shard cut into one part per group) each
// lie inside one chunk of the earlier phase and wait for exactly one step
// of it: the shard's phase-1 final for phase 2, and for phase 3 the phase-2
// step that made it final here (own shard) or the phase-1 send that last
// read the area it overwrites (other shards).
//
// Message order: phase 1 and 3 use pairs inside a group, phase 2 pairs
// between groups, and each rank appends phase 1, 2, 3 in that order, so
// every peer's messages are in phase order at both ends and each phase
// depends only on earlier ones.  A member that receive-reduces in both
// phase 1 and phase 2 gives each half of the staging slots (a window), so
// that one phase's chunks cannot hold every slot while the other's, which
// they wait for, need one.
#include "planner/hierarchical.h"

#include <algorithm>
#include <cassert>

#include "absl/strings/str_cat.h"
#include "planner/ring_blocks.h"

namespace meridian::planner {
namespace {

// A shard cut into one part per group (phase 2), each part on the grid.
// Phase 3 moves the parts' non-empty chunks; `where` says, per such chunk,
// which part and which chunk of it.
struct ShardParts {
  std::vector<Chunks> parts;                  // [group]
  Chunks fine;                                // non-empty part chunks, in order
  std::vector<std::pair<int, size_t>> where;  // per fine chunk: (part, chunk)
};

ShardParts CutShard(uint64_t begin, uint64_t size, int groups, uint64_t chunk) {
  ShardParts s;
  const EvenSplit split{size, groups};
  s.parts.resize(groups);
  for (int j = 0; j < groups; ++j) {
    s.parts[j] = GridChunks(begin + split.begin(j), split.size(j), chunk);
    for (size_t c = 0; c < s.parts[j].size(); ++c) {
      if (s.parts[j][c].count == 0) continue;
      s.fine.push_back(s.parts[j][c]);
      s.where.push_back({j, c});
    }
  }
  if (s.fine.empty()) {  // an empty shard still sends its (empty) message
    s.fine.push_back({begin, 0});
    s.where.push_back({0, 0});
  }
  return s;
}

}  // namespace

absl::Status ValidateGroups(const std::vector<std::vector<int32_t>>& groups, int world_size) {
  if (groups.empty()) return absl::InvalidArgumentError("no groups");
  std::vector<bool> seen(world_size, false);
  size_t listed = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (groups[g].empty()) return absl::InvalidArgumentError(absl::StrCat("group ", g, " is empty"));
    for (int32_t rank : groups[g]) {
      if (rank < 0 || rank >= world_size) {
        return absl::InvalidArgumentError(absl::StrCat(
            "group ", g, " lists rank ", rank, ", outside 0..", world_size - 1));
      }
      if (seen[rank]) {
        return absl::InvalidArgumentError(absl::StrCat("rank ", rank, " is in two groups"));
      }
      seen[rank] = true;
      ++listed;
    }
  }
  if (listed != static_cast<size_t>(world_size)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "groups list ", listed, " ranks for a world of ", world_size));
  }
  return absl::OkStatus();
}

Plan BuildHierarchicalPlan(const PlanRequest& req,
                           const std::vector<std::vector<int32_t>>& groups) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  assert(ValidateGroups(groups, req.world_size).ok());
  if (req.collective != Collective::kAllReduce || req.world_size == 1) {
    PlanRequest ring = req;
    ring.order.clear();
    for (const auto& g : groups) ring.order.insert(ring.order.end(), g.begin(), g.end());
    return BuildRingPlan(ring);
  }
  Plan plan;
  plan.collective = req.collective;
  plan.rank = req.rank;
  plan.world_size = req.world_size;
  PlanBuilder b(&plan);

  const int num_groups = static_cast<int>(groups.size());
  int gi = 0, mi = 0;  // this rank's group, and index in it
  for (int g = 0; g < num_groups; ++g) {
    const int at = PositionOf(groups[g], req.rank);
    if (at < static_cast<int>(groups[g].size())) {
      gi = g;
      mi = at;
    }
  }
  const std::vector<int32_t>& mine = groups[gi];
  const int len = static_cast<int>(mine.size());
  size_t shards = mine.size();
  for (const auto& g : groups) shards = std::min(shards, g.size());
  const int s = static_cast<int>(shards);
  const EvenSplit shard{req.count, s};
  const uint64_t chunk = req.chunk_elems;
  const bool owns_shard = mi < s;
  const bool phase1 = len > 1, phase2 = num_groups > 1 && owns_shard;
  const int window = phase1 && phase2 ? kStagingSlots / 2 : 0;
  const BufView input{req.in_place ? BufferId::kOutput : BufferId::kInput, 0};
  const BufView out{BufferId::kOutput, 0};

  std::vector<Chunks> coarse(len);  // [member] phase-1 segments
  std::vector<ShardParts> parts(s);
  for (int i = 0; i < s; ++i) {
    coarse[i] = GridChunks(shard.begin(i), shard.size(i), chunk);
    parts[i] = CutShard(shard.begin(i), shard.size(i), num_groups, chunk);
  }
  for (int i = s; i < len; ++i) coarse[i] = {{0, 0}};

  // Phase 1: reduce-scatter inside the group.
  RingReduceScatterSteps p1;
  if (phase1) {
    RingReduceScatterArgs rs;
    rs.ring = {&mine, mi};
    rs.segments = &coarse;
    rs.contribution = input;
    rs.partial = out;
    rs.final_value = out;
    rs.finalize = req.average && num_groups == 1;
    rs.window = window;
    p1 = AppendRingReduceScatter(rs, &b);
  }

  // Phase 2: all-reduce of this member's shard among the groups.
  StepGrid p2_final;
  if (phase2) {
    std::vector<int32_t> peers(num_groups);
    for (int g = 0; g < num_groups; ++g) peers[g] = groups[g][mi];
    const ShardParts& own = parts[mi];
    StepGrid ready;
    if (phase1) {
      ready.resize(num_groups);
      for (int j = 0; j < num_groups; ++j) {
        for (const Chunk& c : own.parts[j]) {
          ready[j].push_back(p1.reduced[mi][ContainingChunk(coarse[mi], c)]);
        }
      }
    }
    const RingMembers ring{&peers, gi};
    RingReduceScatterArgs rs;
    rs.ring = ring;
    rs.segments = &own.parts;
    rs.contribution = phase1 ? out : input;
    rs.contribution_ready = phase1 ? &ready : nullptr;
    rs.partial = out;
    rs.final_value = out;
    rs.finalize = req.average;
    rs.window = window;
    const RingReduceScatterSteps reduced = AppendRingReduceScatter(rs, &b);
    RingAllGatherArgs ag;
    ag.ring = ring;
    ag.segments = &own.parts;
    ag.own_source = out;
    ag.own_ready = &reduced.reduced[gi];
    ag.dest = out;
    ag.overwrite_after = &reduced.sent;
    p2_final = AppendRingAllGather(ag, &b);
  }

  // Phase 3: all-gather of the shards inside the group.
  if (phase1) {
    std::vector<Chunks> segments(len);
    StepGrid overwrite_after(len);
    for (int i = 0; i < len; ++i) {
      if (i >= s) {
        segments[i] = {{0, 0}};
        overwrite_after[i] = {-1};
        continue;
      }
      segments[i] = parts[i].fine;
      for (const Chunk& c : parts[i].fine) {
        overwrite_after[i].push_back(p1.sent[i][ContainingChunk(coarse[i], c)]);
      }
    }
    std::vector<int32_t> own_ready;
    if (!owns_shard) {
      own_ready = {-1};
    } else {
      const ShardParts& own = parts[mi];
      for (size_t c = 0; c < own.fine.size(); ++c) {
        own_ready.push_back(phase2 ? p2_final[own.where[c].first][own.where[c].second]
                                   : p1.reduced[mi][ContainingChunk(coarse[mi], own.fine[c])]);
      }
    }
    RingAllGatherArgs ag;
    ag.ring = {&mine, mi};
    ag.segments = &segments;
    ag.own_source = out;
    ag.own_ready = &own_ready;
    ag.dest = out;
    ag.overwrite_after = &overwrite_after;
    AppendRingAllGather(ag, &b);
  }
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
