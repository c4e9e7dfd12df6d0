// Hierarchical all-reduce as a software pipeline of ring blocks.
//
// Why a pipeline.  The executor posts the messages to one peer strictly in
// message order.  Run one after the other, every phase-3 message to a
// group neighbour would come after every phase-1 message to it, so the
// links inside a group would idle while the (slow) links between groups
// carry phase 2, and the total would be the sum of the phases.  Instead the
// buffer is cut into pieces (on the chunk grid) and each piece goes through
// four stages, each a ring block (ring_blocks.h):
//   0  reduce-scatter inside the group        (phase 1)
//   1  reduce-scatter between the groups      (phase 2, first half)
//   2  all-gather between the groups          (phase 2, second half)
//   3  all-gather inside the group            (phase 3)
//
// Message order: virtual time.  Stage g of piece p happens at time p + g.
// Every rank emits its blocks sorted by (time, stage): at time t, phase 1
// of piece t, then the crossing reduce-scatter of piece t-1, the crossing
// all-gather of piece t-2, and phase 3 of piece t-3.  Every rank applies
// the same rule to the same groups, so both ends of a link list its
// messages in the same order (pairs inside a group carry stages 0 and 3,
// pairs between groups stages 1 and 2; no pair carries both kinds).  The
// tie order puts a piece's crossing reduce-scatter before the previous
// piece's crossing all-gather on the same link: the link sends the next
// piece's shards while the reduced shards of the last one are still
// crossing the (long) wire, instead of idling for a round trip per piece.
// (Simulated on transatlantic-6, 64 MiB in 128 KiB chunks: 2.37 s in
// sequence, 1.87 s in 16 pieces against a 1.79 s trunk bound; the other
// tie order is as fast at 16 pieces but falls behind as pieces shrink, 2.20 s
// at 32.)
//
// Deadlock freedom.  A stage of a piece depends only on the stage before it
// (time - 1) and on nothing of other pieces (they touch other elements), so
// all blocks follow one order at every rank.  Take the earliest block not
// yet done: the messages before its own in every queue it uses belong to
// earlier blocks, which are done, and its dependencies on earlier stages
// are met, so it runs as a lone ring block would — if it gets staging
// slots.  Receive-reduces come from at most two peers here (the group ring's
// and the crossing ring's predecessor).  When there are two, each peer's
// receive-reduces, over all pieces, wait for the one kStagingSlots/2
// earlier from the same peer: each source holds at most its half of the
// slots, so the earliest block always finds one free once its own earlier
// receive-reduces completed.  (A window per block would not do: two pieces
// of one source could then hold every slot between them.)  With one source
// no bound is needed: slots then go in message order.
//
// Chunks are cut on one absolute grid (multiples of chunk_elems), so the
// finer pieces of a later phase (a shard cut into one part per group) each
// lie inside one chunk of the earlier phase and wait for exactly one step
// of it: the shard's phase-1 final for phase 2, and for phase 3 the phase-2
// step that made it final here (own shard) or the phase-1 send that last
// read the area it overwrites (other shards).
#include "planner/hierarchical.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "planner/ring_blocks.h"

namespace meridian::planner {
namespace {

using Groups = std::vector<std::vector<int32_t>>;

// More pieces hide more of the first and last phase, but every piece adds
// messages, and a crossing ring of three or more groups waits about one
// latency per hop of each piece whose hop is sent faster than that; 16
// keeps both small.
constexpr int kMaxPieces = 16;
// Chunks per crossing part (a shard cut per group) that a piece must keep.
constexpr uint64_t kMinChunksPerPart = 2;

// The stages of one piece; the value is the stage's virtual-time offset
// and its rank among the stages of equal time.
enum Stage : int {
  kGroupReduceScatter = 0,
  kCrossReduceScatter = 1,
  kCrossAllGather = 2,
  kGroupAllGather = 3,
};

// Steps appended in blocks (one stage of one piece each) and emitted sorted
// by virtual time; deps are indices as returned by builder().
class StagedSteps {
 public:
  StagedSteps() : builder_(&staged_) {}
  StagedSteps(const StagedSteps&) = delete;
  StagedSteps& operator=(const StagedSteps&) = delete;

  PlanBuilder* builder() { return &builder_; }

  // The steps appended since the last call form the block of `stage` of
  // `piece`.
  void EndBlock(int64_t piece, Stage stage) {
    const int32_t end = static_cast<int32_t>(staged_.steps.size());
    if (end > closed_) blocks_.push_back({piece + stage, stage, closed_, end});
    closed_ = end;
  }

  // Appends every block to `plan` by (time, stage); a block keeps its own
  // step order.
  void EmitInto(Plan* plan) const {
    assert(closed_ == static_cast<int32_t>(staged_.steps.size()));
    std::vector<Block> order = blocks_;
    std::stable_sort(order.begin(), order.end(), [](const Block& a, const Block& b) {
      return std::tie(a.time, a.stage) < std::tie(b.time, b.stage);
    });
    std::vector<int32_t> index_of(staged_.steps.size(), -1);
    const int32_t base = static_cast<int32_t>(plan->steps.size());
    int32_t next = base;
    for (const Block& blk : order) {
      for (int32_t i = blk.begin; i < blk.end; ++i) index_of[i] = next++;
    }
    plan->steps.resize(next);
    for (int32_t i = 0; i < static_cast<int32_t>(staged_.steps.size()); ++i) {
      Step s = staged_.steps[i];
      for (int32_t& d : s.deps) {
        if (d < 0) continue;
        d = index_of[d];
        assert(d < index_of[i]);  // stages depend on earlier times only
      }
      plan->steps[index_of[i]] = s;
    }
  }

 private:
  struct Block {
    int64_t time;
    int stage;
    int32_t begin, end;  // step range in staged_
  };
  Plan staged_;
  PlanBuilder builder_;
  std::vector<Block> blocks_;
  int32_t closed_ = 0;
};

// Bounds each source's receive-reduces in flight to its share of the
// staging slots when several peers feed this rank (see the top of the
// file).  Runs on the emitted plan: the bound follows message order.
void BoundStagingSlots(Plan* plan) {
  std::map<int, std::vector<int32_t>> by_source;  // peer -> receive-reduces
  for (int32_t i = 0; i < static_cast<int32_t>(plan->steps.size()); ++i) {
    const Step& s = plan->steps[i];
    if (s.kind == StepKind::kRecvReduce) by_source[s.peer].push_back(i);
  }
  if (by_source.size() < 2) return;
  const size_t window = kStagingSlots / by_source.size();
  assert(window >= 1);
  for (const auto& [peer, steps] : by_source) {
    for (size_t k = window; k < steps.size(); ++k) {
      int32_t* deps = plan->steps[steps[k]].deps;
      const int32_t earlier = steps[k - window];
      if (deps[0] == earlier || deps[1] == earlier) continue;
      // The ring blocks give a receive-reduce at most one dep (its
      // contribution from an earlier phase): the other is free.
      assert(deps[1] < 0);
      deps[deps[0] < 0 ? 0 : 1] = earlier;
    }
  }
}

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

// This rank's place in the hierarchy, the same for every piece.
struct Hierarchy {
  int num_groups = 0;
  int gi = 0, mi = 0;  // this rank's group, and index in it
  std::vector<int32_t> group;        // this rank's group, in ring order
  std::vector<int32_t> cross_peers;  // [group] its member at index mi
  int shards = 0;                    // s: the smallest group's size
  bool owns_shard = false;
  bool phase1 = false, phase2 = false;
  uint64_t chunk = 1;
  bool average = false;
  BufView input, out;

  int len() const { return static_cast<int>(group.size()); }
};

Hierarchy MakeHierarchy(const PlanRequest& req, const Groups& groups) {
  Hierarchy h;
  h.num_groups = static_cast<int>(groups.size());
  for (int g = 0; g < h.num_groups; ++g) {
    const int at = PositionOf(groups[g], req.rank);
    if (at < static_cast<int>(groups[g].size())) {
      h.gi = g;
      h.mi = at;
    }
  }
  h.group = groups[h.gi];
  size_t shards = h.group.size();
  for (const auto& g : groups) shards = std::min(shards, g.size());
  h.shards = static_cast<int>(shards);
  h.owns_shard = h.mi < h.shards;
  h.phase1 = h.len() > 1;
  h.phase2 = h.num_groups > 1 && h.owns_shard;
  if (h.phase2) {
    for (const auto& g : groups) h.cross_peers.push_back(g[h.mi]);
  }
  h.chunk = req.chunk_elems;
  h.average = req.average;
  h.input = {req.in_place ? BufferId::kOutput : BufferId::kInput, 0};
  h.out = {BufferId::kOutput, 0};
  return h;
}

// The three phases over the logical range [begin, begin + count), as the
// four stages of `piece`.
void AppendPiece(const Hierarchy& h, int64_t piece, uint64_t begin, uint64_t count,
                 StagedSteps* staged) {
  PlanBuilder* b = staged->builder();
  const int len = h.len(), s = h.shards;
  const EvenSplit shard{count, s};
  std::vector<Chunks> coarse(len);  // [member] phase-1 segments
  std::vector<ShardParts> parts(s);
  for (int i = 0; i < s; ++i) {
    coarse[i] = GridChunks(begin + shard.begin(i), shard.size(i), h.chunk);
    parts[i] = CutShard(begin + shard.begin(i), shard.size(i), h.num_groups, h.chunk);
  }
  for (int i = s; i < len; ++i) coarse[i] = {{0, 0}};

  // Phase 1: reduce-scatter inside the group.  Windows: BoundStagingSlots.
  RingReduceScatterSteps p1;
  if (h.phase1) {
    RingReduceScatterArgs rs;
    rs.ring = {&h.group, h.mi};
    rs.segments = &coarse;
    rs.contribution = h.input;
    rs.partial = h.out;
    rs.final_value = h.out;
    rs.finalize = h.average && h.num_groups == 1;
    p1 = AppendRingReduceScatter(rs, b);
  }
  staged->EndBlock(piece, kGroupReduceScatter);

  // Phase 2: all-reduce of this member's shard among the groups.
  StepGrid p2_final;
  if (h.phase2) {
    const ShardParts& own = parts[h.mi];
    StepGrid ready;
    if (h.phase1) {
      ready.resize(h.num_groups);
      for (int j = 0; j < h.num_groups; ++j) {
        for (const Chunk& c : own.parts[j]) {
          ready[j].push_back(p1.reduced[h.mi][ContainingChunk(coarse[h.mi], c)]);
        }
      }
    }
    const RingMembers ring{&h.cross_peers, h.gi};
    RingReduceScatterArgs rs;
    rs.ring = ring;
    rs.segments = &own.parts;
    rs.contribution = h.phase1 ? h.out : h.input;
    rs.contribution_ready = h.phase1 ? &ready : nullptr;
    rs.partial = h.out;
    rs.final_value = h.out;
    rs.finalize = h.average;
    const RingReduceScatterSteps reduced = AppendRingReduceScatter(rs, b);
    staged->EndBlock(piece, kCrossReduceScatter);
    RingAllGatherArgs ag;
    ag.ring = ring;
    ag.segments = &own.parts;
    ag.own_source = h.out;
    ag.own_ready = &reduced.reduced[h.gi];
    ag.dest = h.out;
    ag.overwrite_after = &reduced.sent;
    p2_final = AppendRingAllGather(ag, b);
    staged->EndBlock(piece, kCrossAllGather);
  }

  // Phase 3: all-gather of the shards inside the group.
  if (h.phase1) {
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
    if (!h.owns_shard) {
      own_ready = {-1};
    } else {
      const ShardParts& own = parts[h.mi];
      for (size_t c = 0; c < own.fine.size(); ++c) {
        own_ready.push_back(
            h.phase2 ? p2_final[own.where[c].first][own.where[c].second]
                     : p1.reduced[h.mi][ContainingChunk(coarse[h.mi], own.fine[c])]);
      }
    }
    RingAllGatherArgs ag;
    ag.ring = {&h.group, h.mi};
    ag.segments = &segments;
    ag.own_source = h.out;
    ag.own_ready = &own_ready;
    ag.dest = h.out;
    ag.overwrite_after = &overwrite_after;
    AppendRingAllGather(ag, b);
  }
  staged->EndBlock(piece, kGroupAllGather);
}

// Chunks of a buffer of `count` elements (0 for an empty one).
uint64_t ChunksIn(uint64_t count, uint64_t chunk) { return count / chunk + (count % chunk != 0); }

}  // namespace

int HierarchicalPieces(uint64_t count, uint64_t chunk_elems, const Groups& groups) {
  assert(chunk_elems >= 1 && !groups.empty());
  size_t smallest = groups.front().size(), largest = 0;
  for (const auto& g : groups) {
    smallest = std::min(smallest, g.size());
    largest = std::max(largest, g.size());
  }
  // One group is one ring, and groups of one member are one ring between
  // groups: the same links all along, nothing for a pipeline to overlap.
  if (groups.size() < 2 || largest < 2) return 1;
  const uint64_t parts = static_cast<uint64_t>(smallest) * groups.size();
  const uint64_t pieces = count / chunk_elems / parts / kMinChunksPerPart;
  return static_cast<int>(std::clamp<uint64_t>(pieces, 1, kMaxPieces));
}

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

Plan BuildHierarchicalPlan(const PlanRequest& req, const Groups& groups) {
  return BuildHierarchicalPlan(req, groups, HierarchicalOptions());
}

Plan BuildHierarchicalPlan(const PlanRequest& req, const Groups& groups,
                           const HierarchicalOptions& options) {
  assert(req.world_size >= 1 && req.rank >= 0 && req.rank < req.world_size);
  assert(req.chunk_elems >= 1);
  assert(ValidateGroups(groups, req.world_size).ok());
  assert(options.pieces >= 0);
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

  const Hierarchy h = MakeHierarchy(req, groups);
  const uint64_t chunks = ChunksIn(req.count, req.chunk_elems);
  const int wanted = options.pieces > 0
                         ? options.pieces
                         : HierarchicalPieces(req.count, req.chunk_elems, groups);
  const int pieces =
      static_cast<int>(std::max<uint64_t>(1, std::min<uint64_t>(wanted, chunks)));
  // Pieces start on the chunk grid, so their chunks are whole chunks.
  const EvenSplit piece_chunks{chunks, pieces};
  auto piece_begin = [&](int p) {
    return std::min(req.count, piece_chunks.begin(p) * req.chunk_elems);
  };
  StagedSteps staged;
  for (int p = 0; p < pieces; ++p) {
    const uint64_t begin = piece_begin(p);
    AppendPiece(h, p, begin, piece_begin(p + 1) - begin, &staged);
  }
  staged.EmitInto(&plan);
  BoundStagingSlots(&plan);
  plan.Finalize();
  return plan;
}

}  // namespace meridian::planner
