// meridian-wanem's timing model with a fake clock: serialisation, delay,
// queue limit and loss of one link (LinkModel), and packets crossing a path
// of several links hop by hop (Forwarder).
#include <cmath>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "perf/wan/emulator/config.h"
#include "perf/wan/emulator/forwarder.h"
#include "perf/wan/emulator/link.h"

namespace meridian::wanem {
namespace {

constexpr int64_t kMs = 1000000;

TEST(WanemLinkTest, SerialisesThenDelays) {
  // 1 Gbit/s: 16000 bytes take 128 us; 10 ms one way.
  LinkModel link(1000000000, 10 * kMs, 0, 1 << 20);
  EXPECT_EQ(link.SerializationNs(16000), 128000);
  int64_t t = 0;
  ASSERT_EQ(link.Offer(0, 16000, 0.5, &t), LinkModel::Verdict::kAccepted);
  EXPECT_EQ(t, 128000 + 10 * kMs);
  // Back to back: waits for the previous packet.
  ASSERT_EQ(link.Offer(0, 16000, 0.5, &t), LinkModel::Verdict::kAccepted);
  EXPECT_EQ(t, 256000 + 10 * kMs);
  // After the link went idle: starts at its arrival.
  ASSERT_EQ(link.Offer(5 * kMs, 1000, 0.5, &t), LinkModel::Verdict::kAccepted);
  EXPECT_EQ(t, 5 * kMs + 8000 + 10 * kMs);
  EXPECT_EQ(link.counters().packets, 3u);
  EXPECT_EQ(link.counters().bytes, 33000u);
}

TEST(WanemLinkTest, UnlimitedRateOnlyDelays) {
  LinkModel link(0, 250000, 0, 1 << 18);
  int64_t t = 0;
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(link.Offer(7, 65000, 0.5, &t), LinkModel::Verdict::kAccepted);
    EXPECT_EQ(t, 7 + 250000);
  }
  EXPECT_EQ(link.BacklogBytes(7), 0u);
}

TEST(WanemLinkTest, TailDropsAtTheQueueLimit) {
  // 8 Mbit/s: 1000 bytes take 1 ms.  Queue: 10000 bytes.
  LinkModel link(8000000, 0, 0, 10000);
  int64_t t = 0;
  int accepted = 0;
  for (int i = 0; i < 15; ++i) {
    if (link.Offer(0, 1000, 0.5, &t) == LinkModel::Verdict::kAccepted) ++accepted;
  }
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(link.counters().queue_dropped, 5u);
  EXPECT_EQ(link.BacklogBytes(0), 10000u);
  EXPECT_EQ(link.BacklogBytes(4 * kMs), 6000u);
  EXPECT_EQ(link.BacklogBytes(4 * kMs + kMs / 2), 5500u);
  // 4.5 ms later, 4 more fit (5500 + 4000 <= 10000), the 5th does not.
  for (int i = 0; i < 5; ++i) link.Offer(4 * kMs + kMs / 2, 1000, 0.5, &t);
  EXPECT_EQ(link.counters().packets, 14u);
  EXPECT_EQ(link.counters().queue_dropped, 6u);
  // The last accepted one leaves when all 14 ms of bytes are sent.
  EXPECT_EQ(link.BacklogBytes(14 * kMs), 0u);
}

TEST(WanemLinkTest, SustainedOverloadDeliversAtTheRate) {
  // 100 Mbit/s offered 200 Mbit/s of 1500-byte packets for one second.
  LinkModel link(100000000, 5 * kMs, 0, 64000);
  int64_t last = 0, t = 0;
  for (int64_t now = 0; now < 1000 * kMs; now += 60000) {
    if (link.Offer(now, 1500, 0.5, &t) == LinkModel::Verdict::kAccepted) last = t;
  }
  double seconds = static_cast<double>(last - 5 * kMs) * 1e-9;
  double mbit = static_cast<double>(link.counters().bytes) * 8 / seconds / 1e6;
  EXPECT_NEAR(mbit, 100.0, 0.5);
  EXPECT_GT(link.counters().queue_dropped, 8000u);
}

TEST(WanemLinkTest, LosesTheConfiguredFraction) {
  LinkModel link(0, 0, 0.1, 1 << 20);
  Rng rng(42);
  int64_t t = 0;
  for (int i = 0; i < 100000; ++i) link.Offer(i, 100, rng.Uniform(), &t);
  EXPECT_NEAR(static_cast<double>(link.counters().lost), 10000.0, 400.0);
  EXPECT_EQ(link.counters().lost + link.counters().packets, 100000u);
  // A draw below the probability is a loss; the draw is ignored at loss 0.
  LinkModel never(0, 0, 0, 1 << 20);
  EXPECT_EQ(never.Offer(0, 100, 0.0, &t), LinkModel::Verdict::kAccepted);
}

TEST(WanemLinkTest, RngIsReproducibleAndUniform) {
  Rng a(7), b(7), c(8);
  EXPECT_EQ(a.Next(), b.Next());
  EXPECT_NE(a.Next(), c.Next());
  double sum = 0;
  for (int i = 0; i < 100000; ++i) {
    double u = a.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 100000, 0.5, 0.01);
}

// Forwarder over a fake clock.
struct Delivery {
  int64_t at;
  int src, dst;
  uint32_t len;
};

class Recorder : public Forwarder::Sink {
 public:
  explicit Recorder(PacketPool* pool) : pool_(pool) {}
  void Deliver(Packet* p) override {
    got.push_back({now, p->src, p->dst, p->len});
    pool_->Put(p);
  }
  int64_t now = 0;
  std::vector<Delivery> got;

 private:
  PacketPool* pool_;
};

Packet* Ipv4(PacketPool* pool, uint32_t dst, uint32_t len) {
  Packet* p = pool->Get();
  std::memset(p->data, 0, len);
  p->data[0] = 0x45;
  p->data[16] = static_cast<uint8_t>(dst >> 24);
  p->data[17] = static_cast<uint8_t>(dst >> 16);
  p->data[18] = static_cast<uint8_t>(dst >> 8);
  p->data[19] = static_cast<uint8_t>(dst);
  p->len = len;
  return p;
}

// Runs the clock in 1 us steps up to `until`, as the timerfd would.
void RunUntil(Forwarder* f, Recorder* r, int64_t until) {
  while (f->NextDue() <= until) {
    r->now = f->NextDue();
    f->RunDue(r->now, r);
  }
}

Config ThreePeers() {
  Config c;
  std::string error;
  bool ok = ParseConfig(
      "mtu 16000\n"
      "peer 0 a 10.231.0.1\npeer 1 b 10.231.0.2\npeer 2 c 10.231.0.3\n"
      "link up0   8M   1     0 1M\n"   // 8 Mbit/s: 1000 bytes = 1 ms
      "link trunk 80M  20000 0 1M\n"   // 1000 bytes = 0.1 ms
      "link back  0    30000 0 1M\n"
      "link bc    0    5000  0 1M\n"
      "path 0 1 up0 trunk\npath 1 0 back\n"
      "path 0 2 up0 bc\npath 2 0 back\n"
      "path 1 2 bc\npath 2 1 bc\n",
      &c, &error);
  EXPECT_TRUE(ok) << error;
  return c;
}

TEST(WanemForwarderTest, CrossesThePathHopByHop) {
  Config c = ThreePeers();
  PacketPool pool(16064, 1024);
  Forwarder f(c, 1, &pool);
  Recorder r(&pool);
  f.Ingress(Ipv4(&pool, 0x0ae70002, 1000), 0, 0);
  f.Ingress(Ipv4(&pool, 0x0ae70002, 1000), 0, 0);
  RunUntil(&f, &r, 100 * kMs);
  ASSERT_EQ(r.got.size(), 2u);
  // up0: 1 ms + 1 us; trunk: 0.1 ms + 20 ms.
  EXPECT_EQ(r.got[0].at, 1 * kMs + 1000 + 100000 + 20 * kMs);
  EXPECT_EQ(r.got[0].src, 0);
  EXPECT_EQ(r.got[0].dst, 1);
  // The second waits 1 ms on up0, then finds the trunk idle again.
  EXPECT_EQ(r.got[1].at, r.got[0].at + kMs);
  EXPECT_EQ(f.links()[0].counters().packets, 2u);
  EXPECT_EQ(f.links()[1].counters().packets, 2u);
  EXPECT_EQ(f.counters().delivered, 2u);
  EXPECT_EQ(pool.in_use(), 0u);
}

TEST(WanemForwarderTest, SharedLinkQueuesTrafficOfTwoPaths) {
  // 0->1 and 0->2 share up0: a packet to 2 right after one to 1 waits for it.
  Config c = ThreePeers();
  PacketPool pool(16064, 1024);
  Forwarder f(c, 1, &pool);
  Recorder r(&pool);
  f.Ingress(Ipv4(&pool, 0x0ae70002, 1000), 0, 0);
  f.Ingress(Ipv4(&pool, 0x0ae70003, 1000), 0, 0);
  RunUntil(&f, &r, 100 * kMs);
  ASSERT_EQ(r.got.size(), 2u);
  EXPECT_EQ(r.got[0].dst, 2);
  EXPECT_EQ(r.got[0].at, 2 * kMs + 1000 + 5 * kMs);
  EXPECT_EQ(r.got[1].dst, 1);
}

TEST(WanemForwarderTest, DropsWhatItCannotRoute) {
  Config c = ThreePeers();
  PacketPool pool(16064, 1024);
  Forwarder f(c, 1, &pool);
  Recorder r(&pool);
  f.Ingress(Ipv4(&pool, 0x0ae700ff, 100), 0, 0);  // no such peer
  f.Ingress(Ipv4(&pool, 0x0ae70001, 100), 0, 0);  // to itself
  Packet* v6 = Ipv4(&pool, 0x0ae70002, 100);
  v6->data[0] = 0x60;
  f.Ingress(v6, 0, 0);
  Packet* runt = Ipv4(&pool, 0x0ae70002, 100);
  runt->len = 12;
  f.Ingress(runt, 0, 0);
  RunUntil(&f, &r, 100 * kMs);
  EXPECT_TRUE(r.got.empty());
  EXPECT_EQ(f.counters().unknown_dst, 2u);
  EXPECT_EQ(f.counters().non_ipv4, 2u);
  EXPECT_EQ(f.counters().rx_packets, 4u);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(f.NextDue(), INT64_MAX);
}

TEST(WanemForwarderTest, DeliversInOrderAtEqualTimes) {
  Config c = ThreePeers();
  PacketPool pool(16064, 1024);
  Forwarder f(c, 1, &pool);
  Recorder r(&pool);
  for (uint32_t len = 100; len < 110; ++len)
    f.Ingress(Ipv4(&pool, 0x0ae70001, len), 1, 3 * kMs);  // unlimited rate
  RunUntil(&f, &r, 100 * kMs);
  ASSERT_EQ(r.got.size(), 10u);
  for (uint32_t i = 0; i < 10; ++i) {
    EXPECT_EQ(r.got[i].len, 100 + i);
    EXPECT_EQ(r.got[i].at, 33 * kMs);
  }
}

TEST(WanemPoolTest, GrowsInChunksUpToItsLimit) {
  PacketPool pool(1024, 128);
  std::vector<Packet*> got;
  while (Packet* p = pool.Get()) got.push_back(p);
  EXPECT_EQ(got.size(), 128u);
  EXPECT_EQ(pool.allocated(), 128u);
  for (Packet* p : got) pool.Put(p);
  EXPECT_EQ(pool.in_use(), 0u);
  EXPECT_EQ(pool.high_water(), 128u);
  EXPECT_NE(pool.Get(), nullptr);
  EXPECT_EQ(pool.allocated(), 128u);  // reused, not grown
}

}  // namespace
}  // namespace meridian::wanem
