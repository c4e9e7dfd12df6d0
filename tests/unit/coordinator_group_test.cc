// Group membership decisions without sockets: formation, pending joiners,
// losses, step boundaries, dissolution and recovery after a restart.
#include "runtime/coordinator/group.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace meridian::coordinator {
namespace {

using transport::Clock;
using transport::HostPort;

JoinMsg J(int world, int rank, int port) {
  JoinMsg j;
  j.world_size = world;
  j.requested_rank = rank;
  j.data_address = HostPort{"127.0.0.1", static_cast<uint16_t>(port)};
  return j;
}

// What each peer received, by type.
struct Inbox {
  std::map<PeerId, Roster> rosters;
  std::map<PeerId, NoticeMsg> notices;
  explicit Inbox(const Actions& a) {
    for (const auto& [id, msg] : a.send) {
      if (auto* r = std::get_if<RosterMsg>(&msg)) rosters[id] = r->roster;
      if (auto* n = std::get_if<NoticeMsg>(&msg)) notices[id] = *n;
    }
  }
};

Actions Ok(absl::StatusOr<Actions> a) {
  EXPECT_TRUE(a.ok()) << a.status();
  return a.ok() ? *std::move(a) : Actions{};
}

// Forms a group of n from peers 1..n; returns nothing, asserts epoch 1.
void Form(Group& g, int n) {
  Actions last;
  for (int i = 1; i <= n; ++i) last = Ok(g.Admit(i, J(n, -1, 1000 + i)));
  Inbox in(last);
  ASSERT_EQ(in.rosters.size(), static_cast<size_t>(n));
  for (auto& [id, r] : in.rosters) {
    EXPECT_EQ(r.epoch, 1u);
    EXPECT_EQ(r.rank, static_cast<int>(id) - 1);
  }
}

Actions UpdateAll(Group& g, const std::vector<PeerId>& ids, bool force = false) {
  Actions out;
  for (PeerId id : ids) out = Ok(g.RequestUpdate(id, UpdateMsg{g.epoch(), force}));
  return out;
}

TEST(GroupTest, StepBoundaryWithoutChangeKeepsTheEpoch) {
  Group g;
  Form(g, 3);
  Actions a = Ok(g.RequestUpdate(1, UpdateMsg{1, false}));
  EXPECT_TRUE(a.send.empty());  // waits for everyone
  a = UpdateAll(g, {2, 3});
  Inbox in(a);
  ASSERT_EQ(in.rosters.size(), 3u);
  for (auto& [id, r] : in.rosters) EXPECT_EQ(r.epoch, 1u);
  // A forced boundary forms a new epoch with the same members.
  in = Inbox(UpdateAll(g, {1, 2, 3}, /*force=*/true));
  for (auto& [id, r] : in.rosters) EXPECT_EQ(r.epoch, 2u);
}

TEST(GroupTest, JoinerIsPendingUntilTheNextBoundaryAndGetsTheNextRank) {
  Group g;
  Form(g, 2);
  Inbox pending(Ok(g.Admit(9, J(5, 0, 2000))));  // world size and rank ignored
  ASSERT_EQ(pending.notices.size(), 2u);
  EXPECT_EQ(pending.notices[1].pending_joiners, 1);
  EXPECT_EQ(pending.notices[1].lost_rank, -1);
  EXPECT_EQ(g.pending_joiners(), 1u);
  Inbox in(UpdateAll(g, {1, 2}));
  ASSERT_EQ(in.rosters.size(), 3u);
  EXPECT_EQ(in.rosters[9].rank, 2);
  EXPECT_EQ(in.rosters[9].world_size, 3);
  EXPECT_EQ(in.rosters[9].epoch, 2u);
  EXPECT_EQ(in.rosters[9].peers[2].port, 2000);
  EXPECT_EQ(g.pending_joiners(), 0u);
}

TEST(GroupTest, LostMemberIsAnnouncedAndSurvivorsKeepTheirOrder) {
  Group g;
  Form(g, 4);
  Inbox lost(g.Remove(2, "evicted: no heartbeat", /*evicted=*/true));
  ASSERT_EQ(lost.notices.size(), 3u);
  EXPECT_EQ(lost.notices[1].lost_rank, 1);
  EXPECT_TRUE(lost.notices[1].evicted);
  EXPECT_NE(lost.notices[1].reason.find("rank 1 of epoch 1 was lost"), std::string::npos);
  Inbox in(UpdateAll(g, {1, 3, 4}));
  ASSERT_EQ(in.rosters.size(), 3u);
  EXPECT_EQ(in.rosters[1].rank, 0);
  EXPECT_EQ(in.rosters[3].rank, 1);
  EXPECT_EQ(in.rosters[4].rank, 2);
  EXPECT_EQ(in.rosters[4].epoch, 2u);
  EXPECT_EQ(in.rosters[4].peers[1].port, 1003);
  EXPECT_FALSE(g.RequestUpdate(2, UpdateMsg{2, false}).ok());  // not a member
}

TEST(GroupTest, LossOfTheLastStragglerCompletesTheBoundary) {
  Group g;
  Form(g, 3);
  EXPECT_TRUE(UpdateAll(g, {1, 2}).send.empty());
  Inbox in(g.Remove(3, "connection closed by peer"));
  EXPECT_FALSE(in.notices.empty());
  ASSERT_EQ(in.rosters.size(), 2u);
  EXPECT_EQ(in.rosters[2].world_size, 2);
}

TEST(GroupTest, MassFailureLeavesTheSurvivorsAGroup) {
  Group g;
  Form(g, 10);
  for (PeerId id = 1; id <= 8; ++id) g.Remove(id, "killed");
  Inbox in(UpdateAll(g, {9, 10}));
  ASSERT_EQ(in.rosters.size(), 2u);
  EXPECT_EQ(in.rosters[9].rank, 0);
  EXPECT_EQ(in.rosters[10].rank, 1);
  EXPECT_EQ(in.rosters[10].world_size, 2);
}

TEST(GroupTest, LastMemberLeavingDissolvesAndPendingPeersCollectAnew) {
  Group g;
  Form(g, 1);
  Ok(g.Admit(5, J(2, -1, 3000)));
  Ok(g.Admit(6, J(3, -1, 3001)));  // a different size: refused on dissolve
  Actions a = g.Remove(1, "left");
  EXPECT_FALSE(g.formed());
  EXPECT_EQ(g.collecting(), 1u);
  ASSERT_EQ(a.refuse.size(), 1u);
  EXPECT_EQ(a.refuse[0].first, 6u);
  Inbox in(Ok(g.Admit(7, J(2, -1, 3002))));
  ASSERT_EQ(in.rosters.size(), 2u);
  EXPECT_EQ(in.rosters[5].epoch, 1u);
}

ReconnectMsg R(uint64_t group, uint64_t epoch, int rank, int world) {
  ReconnectMsg m;
  m.group_id = group;
  m.epoch = epoch;
  m.rank = rank;
  m.world_size = world;
  m.data_address = HostPort{"127.0.0.1", static_cast<uint16_t>(4000 + rank)};
  return m;
}

TEST(GroupTest, RestartedCoordinatorRebuildsTheGroupFromReports) {
  Group g(/*recovery_grace_ms=*/100);
  auto now = Clock::now();
  Inbox first(Ok(g.Reconnect(11, R(0xabc, 5, 1, 3), now)));
  EXPECT_EQ(first.notices.size(), 1u);  // the acknowledgement
  EXPECT_TRUE(g.formed());
  EXPECT_EQ(g.epoch(), 5u);
  // Unknown group or a rank already back: refused.
  EXPECT_FALSE(g.Reconnect(12, R(0xdef, 5, 0, 3), now).ok());
  EXPECT_FALSE(g.Reconnect(12, R(0xabc, 5, 1, 3), now).ok());
  Ok(g.Reconnect(12, R(0xabc, 5, 0, 3), now));
  // A boundary waits for the recovery to end...
  EXPECT_TRUE(UpdateAll(g, {11, 12}).send.empty());
  // ...which rank 2 never joins: after the grace period it is lost and the
  // survivors move on.
  EXPECT_TRUE(g.Tick(now).send.empty());
  Inbox in(g.Tick(now + std::chrono::milliseconds(150)));
  ASSERT_EQ(in.rosters.size(), 2u);
  EXPECT_EQ(in.rosters[12].rank, 0);
  EXPECT_EQ(in.rosters[11].rank, 1);
  EXPECT_EQ(in.rosters[11].epoch, 6u);
  EXPECT_EQ(in.rosters[11].peers[0].port, 4000);
}

TEST(GroupTest, EvictedMemberCannotReconnect) {
  Group g;
  Form(g, 2);
  uint64_t id = g.group_id();
  g.Remove(2, "evicted", true);
  absl::StatusOr<Actions> back = g.Reconnect(3, R(id, 1, 1, 2), Clock::now());
  ASSERT_FALSE(back.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(back.status()));
  EXPECT_NE(back.status().message().find("no longer a member"), std::string::npos)
      << back.status();
}

}  // namespace
}  // namespace meridian::coordinator
