// Shared-state sync: the decision every member derives from the records
// (pure, no sockets), then mdnSharedStateSync end to end with ranks as
// threads of this process against an in-process coordinator.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "meridian.h"
#include "runtime/src/shared_state.h"
#include "tests/unit/comm_group.h"

namespace meridian::runtime {
namespace {

using Copies = std::vector<std::pair<int, int>>;

// ------------------------------------------------------------- decision --

SharedTensorRecord Rec(uint64_t revision, uint64_t hash, uint64_t name_hash = 1,
                       uint64_t count = 10) {
  SharedTensorRecord r;
  r.name_hash = name_hash;
  r.count = count;
  r.dtype = 7;
  r.revision = revision;
  r.content_hash = hash;
  return r;
}

// One tensor, one record per rank.
absl::StatusOr<SharedTensorPlan> Decide1(const std::vector<SharedTensorRecord>& per_rank) {
  std::vector<std::vector<SharedTensorRecord>> records;
  for (const auto& r : per_rank) records.push_back({r});
  auto plans = DecideSharedState(records, {"w"});
  if (!plans.ok()) return plans.status();
  return (*plans)[0];
}

TEST(SharedStateDecisionTest, RecordRoundTrip) {
  SharedTensorRecord r = Rec(5, 0xabcdef0123456789ull, 42, 1ull << 40);
  r.synced_known = true;
  r.synced_revision = 4;
  uint8_t buf[SharedTensorRecord::kBytes];
  r.Encode(buf);
  auto d = SharedTensorRecord::Decode(buf, sizeof(buf));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->name_hash, 42u);
  EXPECT_EQ(d->count, 1ull << 40);
  EXPECT_EQ(d->revision, 5u);
  EXPECT_EQ(d->content_hash, 0xabcdef0123456789ull);
  EXPECT_TRUE(d->synced_known);
  EXPECT_EQ(d->synced_revision, 4u);
  EXPECT_FALSE(SharedTensorRecord::Decode(buf, sizeof(buf) - 1).ok());
}

TEST(SharedStateDecisionTest, AgreementCopiesNothing) {
  auto p = Decide1({Rec(3, 9), Rec(3, 9), Rec(3, 9)});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->revision, 3u);
  EXPECT_TRUE(p->copies.empty());
  EXPECT_EQ(p->holders, (std::vector<int>{0, 1, 2}));
}

TEST(SharedStateDecisionTest, NewestRevisionBeatsPopularOlder) {
  auto p = Decide1({Rec(4, 1), Rec(4, 1), Rec(5, 2), Rec(4, 1)});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->revision, 5u);
  EXPECT_EQ(p->content_hash, 2u);
  EXPECT_EQ(p->copies, (Copies{{2, 0}, {2, 1}, {2, 3}}));
}

TEST(SharedStateDecisionTest, PopularContentWinsAndFetchersStripe) {
  auto p = Decide1({Rec(2, 1), Rec(2, 2), Rec(2, 2), Rec(2, 3), Rec(1, 7)});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->content_hash, 2u);
  EXPECT_EQ(p->holders, (std::vector<int>{1, 2}));
  EXPECT_EQ(p->copies, (Copies{{1, 0}, {2, 3}, {1, 4}}));
}

TEST(SharedStateDecisionTest, TieGoesToLowestRank) {
  auto a = Decide1({Rec(2, 1), Rec(2, 2), Rec(2, 2), Rec(2, 1)});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->content_hash, 1u);
  EXPECT_EQ(a->copies, (Copies{{0, 1}, {3, 2}}));
  // The older rank 0 does not count; among the newest, rank 1's wins.
  auto b = Decide1({Rec(1, 5), Rec(2, 3), Rec(2, 4)});
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->content_hash, 3u);
  EXPECT_EQ(b->copies, (Copies{{1, 0}, {1, 2}}));
}

TEST(SharedStateDecisionTest, SameBytesAtOlderRevisionOnlyMovesTheRevision) {
  auto p = Decide1({Rec(6, 8), Rec(7, 8), Rec(7, 8)});
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->revision, 7u);
  EXPECT_TRUE(p->copies.empty());
  EXPECT_EQ(p->holders, (std::vector<int>{1, 2}));
}

TEST(SharedStateDecisionTest, RevisionJumpAgainstLastSynced) {
  auto synced = [](SharedTensorRecord r, uint64_t s) {
    r.synced_known = true;
    r.synced_revision = s;
    return r;
  };
  // Group synced at 3; rank 2 says 5.
  auto p = Decide1({synced(Rec(4, 1), 3), synced(Rec(3, 1), 3), synced(Rec(5, 2), 3)});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("rank 2 reports revision 5"), std::string::npos)
      << p.status();
  EXPECT_NE(p.status().message().find("group's revision 3"), std::string::npos);
  // A joiner (nothing known) may hold anything; one ahead is fine.
  EXPECT_TRUE(Decide1({synced(Rec(4, 1), 3), Rec(0, 0)}).ok());
  // With nobody knowing a base, no check.
  EXPECT_TRUE(Decide1({Rec(1, 1), Rec(9, 2)}).ok());
}

TEST(SharedStateDecisionTest, MismatchesNameTheRank) {
  std::vector<std::vector<SharedTensorRecord>> names = {{Rec(1, 1, 10)}, {Rec(1, 1, 10)},
                                                        {Rec(1, 1, 11)}};
  auto a = DecideSharedState(names, {"w"});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(a.status().message().find("rank 2"), std::string::npos) << a.status();
  std::vector<std::vector<SharedTensorRecord>> counts = {{Rec(1, 1, 10, 5)}, {Rec(1, 1, 10, 6)}};
  auto b = DecideSharedState(counts, {"w"});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("shared tensor 'w': rank 1 passed 6"), std::string::npos)
      << b.status();
}

TEST(SharedStateDecisionTest, ValidateArguments) {
  float x = 0;
  mdnSharedTensor_t t[2] = {{"a", &x, 1, mdnFloat32, 1}, {"b", &x, 1, mdnFloat32, 1}};
  EXPECT_TRUE(ValidateSharedTensors(t, 2).ok());
  EXPECT_TRUE(ValidateSharedTensors(nullptr, 0).ok());
  EXPECT_FALSE(ValidateSharedTensors(nullptr, 1).ok());
  t[1].name = "a";
  auto dup = ValidateSharedTensors(t, 2);
  EXPECT_EQ(dup.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dup.message().find("duplicate"), std::string::npos);
  t[1].name = nullptr;
  EXPECT_EQ(ValidateSharedTensors(t, 2).code(), absl::StatusCode::kInvalidArgument);
  const std::string long_name(256, 'n');
  t[1].name = long_name.c_str();
  EXPECT_EQ(ValidateSharedTensors(t, 2).code(), absl::StatusCode::kInvalidArgument);
  const std::string max_name(255, 'n');
  t[1].name = max_name.c_str();
  EXPECT_TRUE(ValidateSharedTensors(t, 2).ok());
  t[1].datatype = static_cast<mdnDataType_t>(10);
  EXPECT_EQ(ValidateSharedTensors(t, 2).code(), absl::StatusCode::kInvalidArgument);
  t[1].datatype = mdnFloat32;
  t[1].data = nullptr;
  EXPECT_EQ(ValidateSharedTensors(t, 2).code(), absl::StatusCode::kInvalidArgument);
  t[1].count = 0;
  EXPECT_TRUE(ValidateSharedTensors(t, 2).ok());
  t[1].count = ~size_t{0} / 2;
  t[1].data = &x;
  EXPECT_EQ(ValidateSharedTensors(t, 2).code(), absl::StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------ end to end --

class AuthTokenEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { setenv("MERIDIAN_AUTH_TOKEN", "shared-state-test-token", 1); }
};
::testing::Environment* const kAuthEnv =
    ::testing::AddGlobalTestEnvironment(new AuthTokenEnvironment);

using Group = ::meridian::test_util::CommGroup;

// One rank's state: a float32 and an int64 tensor, an empty one and a step
// counter, filled from `seed`.
struct State {
  std::vector<float> w;
  std::vector<int64_t> m;
  std::vector<float> empty;
  int64_t step = 0;
  uint64_t revision = 0;

  explicit State(int seed, uint64_t rev) : w(1000), m(777), revision(rev) {
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(seed) * 0.5f + i * 1e-3f;
    for (size_t i = 0; i < m.size(); ++i) m[i] = seed * 1000003LL - static_cast<int64_t>(i);
    step = seed * 10;
  }
  std::vector<mdnSharedTensor_t> Tensors() {
    return {{"w", w.data(), w.size(), mdnFloat32, revision},
            {"empty", empty.data(), 0, mdnFloat32, revision},
            {"m", m.data(), m.size(), mdnInt64, revision},
            {"step", &step, 1, mdnInt64, revision}};
  }
  static constexpr uint64_t kBytes = 1000 * 4 + 777 * 8 + 8;
  bool operator==(const State& o) const {
    return memcmp(w.data(), o.w.data(), w.size() * 4) == 0 &&
           memcmp(m.data(), o.m.data(), m.size() * 8) == 0 && step == o.step;
  }
};

// Syncs every rank's State; returns each rank's result and info.
struct Outcome {
  std::vector<mdnResult_t> rc;
  std::vector<mdnSyncInfo_t> info;
  std::vector<std::string> error;
  std::vector<std::vector<uint64_t>> revisions;
};
Outcome SyncAll(Group& g, std::vector<State>& states) {
  const size_t n = states.size();
  Outcome o{std::vector<mdnResult_t>(n), std::vector<mdnSyncInfo_t>(n),
            std::vector<std::string>(n), std::vector<std::vector<uint64_t>>(n)};
  g.Run([&](int r, mdnComm_t c) {
    auto t = states[r].Tensors();
    o.rc[r] = mdnSharedStateSync(c, t.data(), t.size(), &o.info[r]);
    if (o.rc[r] != mdnSuccess) o.error[r] = mdnCommGetLastError(c);
    for (auto& x : t) o.revisions[r].push_back(x.revision);
  });
  return o;
}

void ExpectAllEqual(const std::vector<State>& states, const State& expected) {
  for (size_t r = 0; r < states.size(); ++r) EXPECT_TRUE(states[r] == expected) << "rank " << r;
}

TEST(SharedStateSyncTest, SteadyStateMovesNothing) {
  Group g(3);
  std::vector<State> s(3, State(1, 4));
  for (int round = 0; round < 2; ++round) {
    Outcome o = SyncAll(g, s);
    for (int r = 0; r < 3; ++r) {
      ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
      EXPECT_EQ(o.info[r].bytes_sent, 0u);
      EXPECT_EQ(o.info[r].bytes_received, 0u);
      EXPECT_EQ(o.info[r].tensors_sent, 0u);
      EXPECT_EQ(o.info[r].tensors_received, 0u);
      EXPECT_EQ(o.revisions[r], std::vector<uint64_t>(4, 4 + round));
    }
    // Every rank changes its state the same way: revision + 1.
    for (auto& st : s) {
      st = State(2 + round, 5 + round);
    }
  }
  // info_p may be NULL; no tensors at all is a valid (empty) sync.
  g.Run([](int, mdnComm_t c) {
    EXPECT_EQ(mdnSharedStateSync(c, nullptr, 0, nullptr), mdnSuccess) << mdnCommGetLastError(c);
  });
}

TEST(SharedStateSyncTest, OutdatedPeerFetchesBitIdentical) {
  Group g(4);
  std::vector<State> s = {State(7, 3), State(7, 3), State(7, 3), State(2, 2)};
  const State expected(7, 3);
  Outcome o = SyncAll(g, s);
  for (int r = 0; r < 4; ++r) {
    ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
    EXPECT_EQ(o.revisions[r], std::vector<uint64_t>(4, 3));
  }
  ExpectAllEqual(s, expected);
  // Rank 3 fetched the three non-empty tensors, all from holder 0.
  EXPECT_EQ(o.info[3].bytes_received, State::kBytes);
  EXPECT_EQ(o.info[3].tensors_received, 3u);
  EXPECT_EQ(o.info[3].bytes_sent, 0u);
  EXPECT_EQ(o.info[0].bytes_sent, State::kBytes);
  EXPECT_EQ(o.info[0].tensors_sent, 3u);
  EXPECT_EQ(o.info[1].bytes_sent + o.info[2].bytes_sent, 0u);
  // Next step: everybody moved on by one; nothing moves.
  for (auto& st : s) st = State(8, 4);
  o = SyncAll(g, s);
  for (int r = 0; r < 4; ++r) {
    ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
    EXPECT_EQ(o.info[r].bytes_received + o.info[r].bytes_sent, 0u);
  }
}

TEST(SharedStateSyncTest, JoinerWithNothingReceivesTheState) {
  Group g(3);
  std::vector<State> s = {State(5, 9), State(5, 9), State(0, 0)};
  // The joiner's buffers hold garbage.
  std::fill(s[2].w.begin(), s[2].w.end(), -1.0f);
  Outcome o = SyncAll(g, s);
  for (int r = 0; r < 3; ++r) ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
  ExpectAllEqual(s, State(5, 9));
  EXPECT_EQ(o.revisions[2], std::vector<uint64_t>(4, 9));
}

TEST(SharedStateSyncTest, NewerRevisionBeatsMorePopularOlder) {
  Group g(3);
  std::vector<State> s = {State(1, 5), State(1, 5), State(2, 6)};
  Outcome o = SyncAll(g, s);
  for (int r = 0; r < 3; ++r) {
    ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
    EXPECT_EQ(o.revisions[r], std::vector<uint64_t>(4, 6));
  }
  ExpectAllEqual(s, State(2, 6));
  EXPECT_EQ(o.info[2].bytes_sent, 2 * State::kBytes);
  EXPECT_EQ(o.info[2].tensors_sent, 6u);
}

TEST(SharedStateSyncTest, PopularContentWinsAmongSameRevision) {
  Group g(4);
  std::vector<State> s = {State(1, 2), State(3, 2), State(3, 2), State(4, 2)};
  Outcome o = SyncAll(g, s);
  for (int r = 0; r < 4; ++r) ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
  ExpectAllEqual(s, State(3, 2));
  // Fetchers 0 and 3 stripe over holders 1 and 2.
  EXPECT_EQ(o.info[1].bytes_sent, State::kBytes);
  EXPECT_EQ(o.info[2].bytes_sent, State::kBytes);
  EXPECT_EQ(o.info[0].bytes_received, State::kBytes);
  EXPECT_EQ(o.info[3].bytes_received, State::kBytes);
}

TEST(SharedStateSyncTest, TieGoesToLowestRanksContent) {
  Group g(4);
  std::vector<State> s = {State(6, 1), State(5, 2), State(6, 2), State(5, 2)};
  // Rank 0 is older; at revision 2, ranks 1 and 3 hold 5, rank 2 holds 6:
  // 5 is more popular.  Then a real tie: 1 and 2 only.
  Outcome o = SyncAll(g, s);
  for (int r = 0; r < 4; ++r) ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
  ExpectAllEqual(s, State(5, 2));
  s = {State(1, 3), State(9, 3), State(8, 3), State(1, 2)};
  // Tie at revision 3 between rank 0's 1... and 9 and 8 (one holder each):
  // rank 0 is lowest.
  o = SyncAll(g, s);
  for (int r = 0; r < 4; ++r) ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
  ExpectAllEqual(s, State(1, 3));
  // Rank 3's bytes equal the winner's at an older revision: no transfer.
  EXPECT_EQ(o.info[3].bytes_received, 0u);
  EXPECT_EQ(o.revisions[3], std::vector<uint64_t>(4, 3));
  EXPECT_EQ(o.info[0].bytes_sent, 2 * State::kBytes);
}

TEST(SharedStateSyncTest, RevisionTwoAheadIsRefusedEverywhere) {
  Group g(3);
  std::vector<State> s(3, State(1, 1));
  Outcome o = SyncAll(g, s);
  for (int r = 0; r < 3; ++r) ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
  s[1] = State(2, 3);  // skipped revision 2
  o = SyncAll(g, s);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(o.rc[r], mdnInvalidUsage) << "rank " << r;
    EXPECT_NE(o.error[r].find("rank 1 reports revision 3"), std::string::npos) << o.error[r];
    EXPECT_NE(o.error[r].find("group's revision 1"), std::string::npos) << o.error[r];
    EXPECT_EQ(o.info[r].bytes_received + o.info[r].bytes_sent, 0u);
  }
  // Nothing changed.
  EXPECT_TRUE(s[0] == State(1, 1));
  EXPECT_TRUE(s[2] == State(1, 1));
  EXPECT_TRUE(s[1] == State(2, 3));
  EXPECT_EQ(o.revisions[1], std::vector<uint64_t>(4, 3));
  EXPECT_EQ(o.revisions[0], std::vector<uint64_t>(4, 1));
  // One ahead is the normal case and works on the same communicators.
  s[1].revision = 2;
  o = SyncAll(g, s);
  for (int r = 0; r < 3; ++r) ASSERT_EQ(o.rc[r], mdnSuccess) << o.error[r];
  ExpectAllEqual(s, State(2, 2));
}

TEST(SharedStateSyncTest, MismatchedNamesCountsOrNumberAreInvalidUsageEverywhere) {
  Group g(2);
  float a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 4};
  struct Case {
    const char* what;
    std::function<std::vector<mdnSharedTensor_t>(int)> tensors;
    const char* expect;
  };
  std::vector<Case> cases = {
      {"name",
       [&](int r) {
         return std::vector<mdnSharedTensor_t>{{"a", a, 4, mdnFloat32, 1},
                                               {r == 1 ? "x" : "b", b, 4, mdnFloat32, 1}};
       },
       "rank 1 passed a different name than rank 0 for tensor #1"},
      {"count",
       [&](int r) {
         return std::vector<mdnSharedTensor_t>{{"a", a, r == 0 ? 4u : 3u, mdnFloat32, 1}};
       },
       "rank 1 passed 3 x float but rank 0 passed 4 x float"},
      {"type",
       [&](int r) {
         return std::vector<mdnSharedTensor_t>{{"a", a, 4, r == 0 ? mdnFloat32 : mdnInt32, 1}};
       },
       "rank 1 passed 4 x int32"},
      {"number",
       [&](int r) {
         std::vector<mdnSharedTensor_t> t = {{"a", a, 4, mdnFloat32, 1}};
         if (r == 1) t.push_back({"b", b, 4, mdnFloat32, 1});
         return t;
       },
       "rank 1 passed 2 tensors but rank 0 passed 1"},
  };
  for (const auto& c : cases) {
    g.Run([&](int r, mdnComm_t comm) {
      auto t = c.tensors(r);
      EXPECT_EQ(mdnSharedStateSync(comm, t.data(), t.size(), nullptr), mdnInvalidUsage)
          << c.what << " rank " << r;
      EXPECT_NE(std::string(mdnCommGetLastError(comm)).find(c.expect), std::string::npos)
          << c.what << ": " << mdnCommGetLastError(comm);
    });
  }
  // The communicators still work.
  g.Run([&](int, mdnComm_t comm) {
    mdnSharedTensor_t t = {"a", a, 4, mdnFloat32, 1};
    EXPECT_EQ(mdnSharedStateSync(comm, &t, 1, nullptr), mdnSuccess) << mdnCommGetLastError(comm);
  });
}

TEST(SharedStateSyncTest, LargeTensorTransfersCorrectly) {
  Group g(2);
  const size_t kCount = (64u << 20) / 4;
  std::vector<std::vector<uint32_t>> data(2, std::vector<uint32_t>(kCount));
  std::mt19937 rng(1234);
  for (auto& x : data[0]) x = rng();
  std::vector<uint32_t> expected = data[0];
  std::vector<mdnSyncInfo_t> info(2);
  std::vector<mdnResult_t> rc(2);
  g.Run([&](int r, mdnComm_t c) {
    mdnSharedTensor_t t = {"big", data[r].data(), kCount, mdnFloat32,
                           static_cast<uint64_t>(r == 0 ? 10 : 9)};
    rc[r] = mdnSharedStateSync(c, &t, 1, &info[r]);
    EXPECT_EQ(t.revision, 10u);
  });
  ASSERT_EQ(rc[0], mdnSuccess) << mdnCommGetLastError(g.comm(0));
  ASSERT_EQ(rc[1], mdnSuccess) << mdnCommGetLastError(g.comm(1));
  EXPECT_TRUE(data[1] == expected);
  EXPECT_EQ(info[0].bytes_sent, 64u << 20);
  EXPECT_EQ(info[1].bytes_received, 64u << 20);
  EXPECT_EQ(info[1].tensors_received, 1u);
}

TEST(SharedStateSyncTest, BytesThatFailTheHashCheckAreRemoteErrorEverywhere) {
  // Rank 1 passes two tensors that share one buffer: the second transfer
  // overwrites the first's bytes before they are verified, as if they had
  // been corrupted in transit.
  Group g(3);
  std::vector<std::vector<int32_t>> p(3, std::vector<int32_t>(100, 1)),
      q(3, std::vector<int32_t>(100, 2));
  std::vector<mdnResult_t> rc(3);
  std::vector<std::string> err(3);
  std::vector<uint64_t> revs(3);
  g.Run([&](int r, mdnComm_t c) {
    int32_t* qbuf = r == 1 ? p[1].data() : q[r].data();
    if (r == 1) std::fill(p[1].begin(), p[1].end(), 0);
    mdnSharedTensor_t t[2] = {{"a", p[r].data(), 100, mdnInt32, r == 1 ? 1u : 2u},
                              {"b", qbuf, 100, mdnInt32, r == 1 ? 1u : 2u}};
    rc[r] = mdnSharedStateSync(c, t, 2, nullptr);
    err[r] = mdnCommGetLastError(c);
    revs[r] = t[0].revision;
  });
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(rc[r], mdnRemoteError) << "rank " << r;
    EXPECT_NE(err[r].find("shared tensor 'a': the bytes rank 1 received from rank 0 fail the "
                          "hash check"),
              std::string::npos)
        << err[r];
    EXPECT_EQ(revs[r], r == 1 ? 1u : 2u);  // not advanced
  }
}

TEST(SharedStateSyncTest, BadArgumentsAreInvalidArgument) {
  Group g(2);
  mdnComm_t c = g.comm(0);
  float x[2] = {0, 0};
  mdnSyncInfo_t info;
  EXPECT_EQ(mdnSharedStateSync(nullptr, nullptr, 0, nullptr), mdnInvalidArgument);
  EXPECT_EQ(mdnSharedStateSync(c, nullptr, 1, &info), mdnInvalidArgument);
  mdnSharedTensor_t t[2] = {{"a", x, 2, mdnFloat32, 0}, {nullptr, x, 2, mdnFloat32, 0}};
  EXPECT_EQ(mdnSharedStateSync(c, t, 2, &info), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnCommGetLastError(c)).find("NULL name"), std::string::npos);
  t[1].name = "a";
  EXPECT_EQ(mdnSharedStateSync(c, t, 2, &info), mdnInvalidArgument);
  EXPECT_NE(std::string(mdnCommGetLastError(c)).find("duplicate"), std::string::npos);
  t[1].name = "b";
  t[1].datatype = static_cast<mdnDataType_t>(77);
  EXPECT_EQ(mdnSharedStateSync(c, t, 2, &info), mdnInvalidArgument);
  t[1].datatype = mdnFloat32;
  t[1].data = nullptr;
  EXPECT_EQ(mdnSharedStateSync(c, t, 2, &info), mdnInvalidArgument);
  EXPECT_EQ(info.bytes_sent + info.bytes_received, 0u);
  EXPECT_EQ(t[0].revision, 0u);
  // The failed calls sent nothing: a real sync still pairs up.
  g.Run([](int r, mdnComm_t comm) {
    float v[2] = {1, 2};
    mdnSharedTensor_t ok = {"a", v, 2, mdnFloat32, static_cast<uint64_t>(r)};
    EXPECT_EQ(mdnSharedStateSync(comm, &ok, 1, nullptr), mdnSuccess)
        << mdnCommGetLastError(comm);
  });
}

}  // namespace
}  // namespace meridian::runtime
