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

// Links with values that say which pair and direction they belong to:
// a_to_b = 1000 * port(a) + port(b), so a pair remapped the wrong way round
// or to the wrong peers shows.
double Rate(int from_port, int to_port) { return 1000.0 * from_port + to_port; }
double Rtt(int port_a, int port_b) { return 1e-6 * (port_a + port_b); }

// Rank 0's report about `epoch` whose ranks have these ports.
LinkReportMsg Report(uint64_t epoch, const std::vector<int>& ports) {
  LinkReportMsg m;
  m.epoch = epoch;
  m.links.gamma_Bps = 7e9;
  m.links.mem_Bps = 9e9;
  for (int port : ports) m.members.push_back(HostPort{"127.0.0.1", uint16_t(port)});
  const int n = static_cast<int>(ports.size());
  for (int a = 0; a < n; ++a) {
    for (int b = a + 1; b < n; ++b) {
      m.links.pairs.push_back({a, b, Rtt(ports[a], ports[b]), Rate(ports[a], ports[b]),
                               Rate(ports[b], ports[a]), static_cast<uint32_t>(a)});
    }
  }
  return m;
}

// Peers 1..n at these ports, ranks in that order.
void FormAt(Group& g, const std::vector<int>& ports) {
  const int n = static_cast<int>(ports.size());
  Actions last;
  for (int i = 0; i < n; ++i) last = Ok(g.Admit(i + 1, J(n, i, ports[i])));
  ASSERT_EQ(Inbox(last).rosters.size(), static_cast<size_t>(n));
}

// Every pair the roster hands out carries the values of its two peers.
void ExpectLinksOf(const Roster& r, size_t pairs) {
  ASSERT_EQ(r.links.pairs.size(), pairs);
  for (const LinkPair& p : r.links.pairs) {
    const int pa = r.peers[p.a].port, pb = r.peers[p.b].port;
    EXPECT_EQ(p.rtt_s, Rtt(pa, pb)) << p.a << "-" << p.b;
    EXPECT_EQ(p.a_to_b_Bps, Rate(pa, pb)) << p.a << "-" << p.b;
    EXPECT_EQ(p.b_to_a_Bps, Rate(pb, pa)) << p.a << "-" << p.b;
  }
  if (pairs > 0) {
    EXPECT_EQ(r.links.gamma_Bps, 7e9);
    EXPECT_EQ(r.links.mem_Bps, 9e9);
  }
}

// Ports chosen so that rank order and address order disagree ("...:9" sorts
// after "...:100"), which the remapping must not care about.
const std::vector<int> kPorts = {9, 10, 100, 11};

TEST(GroupLinksTest, ReportIsRemappedToTheRanksOfTheEpochAfterALeave) {
  Group g;
  FormAt(g, kPorts);
  ASSERT_TRUE(g.ReportLinks(1, Report(1, kPorts)).ok());
  EXPECT_EQ(g.known_links(), 6u);
  g.Remove(2, "connection closed by peer");  // rank 1, port 10
  EXPECT_EQ(g.known_links(), 3u);
  Inbox in(UpdateAll(g, {1, 3, 4}));
  ASSERT_EQ(in.rosters.size(), 3u);
  for (auto& [id, r] : in.rosters) {
    EXPECT_EQ(r.epoch, 2u);
    ASSERT_EQ(r.peers[1].port, 100);  // ranks shifted down
    ExpectLinksOf(r, 3);              // every pair of the new epoch
  }
  // The same matrix for everyone (every rank must build the same topology).
  EXPECT_EQ(in.rosters[1].links.pairs.size(), in.rosters[4].links.pairs.size());
  for (size_t i = 0; i < in.rosters[1].links.pairs.size(); ++i) {
    EXPECT_EQ(in.rosters[1].links.pairs[i].round, in.rosters[4].links.pairs[i].round);
  }
}

TEST(GroupLinksTest, JoinersPairsAreAbsentFromTheNextRoster) {
  Group g;
  FormAt(g, {9, 10, 100});
  ASSERT_TRUE(g.ReportLinks(1, Report(1, {9, 10, 100})).ok());
  Ok(g.Admit(7, J(3, -1, 11)));
  Inbox in(UpdateAll(g, {1, 2, 3}));
  ASSERT_EQ(in.rosters.size(), 4u);
  const Roster& r = in.rosters[7];
  EXPECT_EQ(r.rank, 3);
  ExpectLinksOf(r, 3);
  for (const LinkPair& p : r.links.pairs) EXPECT_LT(p.b, 3);
  // The members measure the joiner's pairs and report the whole epoch;
  // then a leave hands out everything that is left.
  ASSERT_TRUE(g.ReportLinks(1, Report(2, kPorts)).ok());
  g.Remove(1, "left");  // rank 0, port 9
  in = Inbox(UpdateAll(g, {2, 3, 7}));
  ASSERT_EQ(in.rosters.size(), 3u);
  EXPECT_EQ(in.rosters[7].rank, 2);
  ExpectLinksOf(in.rosters[7], 3);
}

TEST(GroupLinksTest, ReportsThatCannotBeUsedChangeNothing) {
  Group g;
  FormAt(g, {9, 10, 100});
  // Not rank 0, not a member, another epoch, other members.
  EXPECT_TRUE(absl::IsFailedPrecondition(g.ReportLinks(2, Report(1, {9, 10, 100}))));
  EXPECT_TRUE(absl::IsFailedPrecondition(g.ReportLinks(42, Report(1, {9, 10, 100}))));
  EXPECT_TRUE(absl::IsFailedPrecondition(g.ReportLinks(1, Report(2, {9, 10, 100}))));
  EXPECT_TRUE(absl::IsInvalidArgument(g.ReportLinks(1, Report(1, {9, 10, 101}))));
  EXPECT_TRUE(absl::IsInvalidArgument(g.ReportLinks(1, Report(1, {9, 10}))));
  LinkReportMsg bad = Report(1, {9, 10, 100});
  bad.links.pairs[1].rtt_s = -1;  // the decoder refuses this; so does the group
  EXPECT_TRUE(absl::IsInvalidArgument(g.ReportLinks(1, bad)));
  bad = Report(1, {9, 10, 100});
  bad.links.pairs[0].b = 7;
  EXPECT_TRUE(absl::IsInvalidArgument(g.ReportLinks(1, bad)));
  EXPECT_EQ(g.known_links(), 0u);
  Inbox in(UpdateAll(g, {1, 2, 3}, /*force=*/true));
  ASSERT_EQ(in.rosters.size(), 3u);
  EXPECT_TRUE(in.rosters[1].links.empty());
}

TEST(GroupLinksTest, PairsOfAMemberLostBeforeTheReportAreNotKept) {
  Group g;
  FormAt(g, {9, 10, 100});
  g.Remove(3, "killed");  // rank 2, port 100
  ASSERT_TRUE(g.ReportLinks(1, Report(1, {9, 10, 100})).ok());
  EXPECT_EQ(g.known_links(), 1u);
  // A new peer at the lost one's address is not taken for it.
  Ok(g.Admit(8, J(3, -1, 100)));
  Inbox in(UpdateAll(g, {1, 2}));
  ASSERT_EQ(in.rosters.size(), 3u);
  ExpectLinksOf(in.rosters[8], 1);
  EXPECT_EQ(in.rosters[8].links.pairs[0].b, 1);
}

TEST(GroupLinksTest, AReprobeOfTheSameEpochReplacesThePairs) {
  Group g;
  FormAt(g, {9, 10, 100});
  ASSERT_TRUE(g.ReportLinks(1, Report(1, {9, 10, 100})).ok());
  LinkReportMsg again = Report(1, {9, 10, 100});
  for (LinkPair& p : again.links.pairs) p.a_to_b_Bps *= 2;
  again.links.gamma_Bps = 3e9;
  ASSERT_TRUE(g.ReportLinks(1, again).ok());
  EXPECT_EQ(g.known_links(), 3u);
  Inbox in(UpdateAll(g, {1, 2, 3}));  // no change: the same epoch again
  const Roster& r = in.rosters[2];
  EXPECT_EQ(r.epoch, 1u);
  ASSERT_EQ(r.links.pairs.size(), 3u);
  EXPECT_EQ(r.links.pairs[0].a_to_b_Bps, 2 * Rate(9, 10));
  EXPECT_EQ(r.links.pairs[0].b_to_a_Bps, Rate(10, 9));
  EXPECT_EQ(r.links.gamma_Bps, 3e9);
}

TEST(GroupLinksTest, ANewGroupStartsWithoutLinks) {
  Group g;
  FormAt(g, {9, 10});
  ASSERT_TRUE(g.ReportLinks(1, Report(1, {9, 10})).ok());
  g.Remove(1, "left");
  g.Remove(2, "left");
  EXPECT_FALSE(g.formed());
  EXPECT_EQ(g.known_links(), 0u);
  Ok(g.Admit(3, J(2, -1, 9)));
  Inbox in(Ok(g.Admit(4, J(2, -1, 10))));
  ASSERT_EQ(in.rosters.size(), 2u);
  EXPECT_TRUE(in.rosters[3].links.empty());
}

}  // namespace
}  // namespace meridian::coordinator
