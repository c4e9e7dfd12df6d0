#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "transport/event_loop.h"
#include "transport/socket.h"

namespace meridian::transport {
namespace {

// gmock is not linked into the unit tests, hence no HasSubstr.
#define EXPECT_HAS_SUBSTR(text, part)                        \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "'" << (text) << "' does not contain '" << (part) << "'"

TEST(ParseHostPortTest, Accepts) {
  absl::StatusOr<HostPort> a = ParseHostPort("127.0.0.1:4567");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 4567);
  EXPECT_EQ(a->ToString(), "127.0.0.1:4567");

  absl::StatusOr<HostPort> b = ParseHostPort("[::1]:80");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->host, "::1");
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->ToString(), "[::1]:80");

  absl::StatusOr<HostPort> c = ParseHostPort("localhost:0");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "localhost");
  EXPECT_EQ(c->port, 0);

  absl::StatusOr<HostPort> d = ParseHostPort("node-7.example.org:65535");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->port, 65535);
}

TEST(ParseHostPortTest, RejectsBadInput) {
  for (const char* bad :
       {"", "localhost", ":80", "host:", "host:65536", "host:-1", "host:12ab",
        "[::1]", "[::1]80", "[::1:80"}) {
    absl::StatusOr<HostPort> r = ParseHostPort(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << "'" << bad << "'";
  }
}

TEST(SocketTest, ListenOnPortInUseNamesTheAddress) {
  absl::StatusOr<Fd> first = Listen(HostPort{"127.0.0.1", 0});
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<HostPort> bound = LocalAddress(first->get());
  ASSERT_TRUE(bound.ok()) << bound.status();
  ASSERT_NE(bound->port, 0);
  absl::StatusOr<Fd> second = Listen(*bound);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_HAS_SUBSTR(second.status().message(), bound->ToString());
}

// A port that was just ours and is now closed: connecting is refused.
uint16_t ClosedPort() {
  absl::StatusOr<Fd> l = Listen(HostPort{"127.0.0.1", 0});
  EXPECT_TRUE(l.ok());
  return LocalAddress(l->get())->port;
}

TEST(SocketTest, ConnectToClosedPortWithRetryHitsTheDeadline) {
  HostPort addr{"127.0.0.1", ClosedPort()};
  auto start = Clock::now();
  absl::StatusOr<Fd> c =
      Connect(addr, DeadlineAfterMs(300), /*retry_refused=*/true);
  auto took = Clock::now() - start;
  EXPECT_TRUE(absl::IsDeadlineExceeded(c.status())) << c.status();
  EXPECT_HAS_SUBSTR(c.status().message(), addr.ToString());
  EXPECT_GE(took, std::chrono::milliseconds(250));
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(SocketTest, ConnectToClosedPortWithoutRetryIsUnavailable) {
  HostPort addr{"127.0.0.1", ClosedPort()};
  absl::StatusOr<Fd> c =
      Connect(addr, DeadlineAfterMs(2000), /*retry_refused=*/false);
  EXPECT_TRUE(absl::IsUnavailable(c.status())) << c.status();
}

TEST(SocketTest, ConnectAcceptAndExchange) {
  absl::StatusOr<Fd> l = Listen(HostPort{"127.0.0.1", 0});
  ASSERT_TRUE(l.ok());
  HostPort addr = *LocalAddress(l->get());
  absl::StatusOr<Fd> c = Connect(addr, DeadlineAfterMs(2000), false);
  ASSERT_TRUE(c.ok()) << c.status();
  absl::StatusOr<Fd> s = Accept(l->get(), DeadlineAfterMs(2000));
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE(TuneDataSocket(c->get(), 1 << 20).ok());
  ASSERT_TRUE(WriteFull(c->get(), "ping", 4, DeadlineAfterMs(2000)).ok());
  char buf[4];
  ASSERT_TRUE(ReadFull(s->get(), buf, 4, DeadlineAfterMs(2000)).ok());
  EXPECT_EQ(std::string(buf, 4), "ping");
  c->reset();
  absl::Status eof = ReadFull(s->get(), buf, 1, DeadlineAfterMs(2000));
  EXPECT_TRUE(absl::IsUnavailable(eof)) << eof;
}

TEST(SocketTest, ReadFullHonoursTheDeadline) {
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  char buf[1];
  auto start = Clock::now();
  absl::Status st = ReadFull(a.get(), buf, 1, DeadlineAfterMs(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(st)) << st;
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(2));
}

TEST(EventLoopTest, DispatchesAndRemovesInsideHandler) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  int calls = 0;
  ASSERT_TRUE((*loop)
                  ->Add(a.get(), EPOLLIN,
                        [&](uint32_t events) {
                          EXPECT_TRUE(events & EPOLLIN);
                          ++calls;
                          (*loop)->Remove(
                              a.get());  // the handler removes itself
                        })
                  .ok());
  EXPECT_EQ((*loop)->RunOnce(0), 0);
  ASSERT_EQ(write(b.get(), "x", 1), 1);
  EXPECT_EQ((*loop)->RunOnce(1000), 1);
  EXPECT_EQ(calls, 1);
  // Level-triggered data is still there, but the fd is no longer watched.
  EXPECT_EQ((*loop)->RunOnce(0), 0);
  EXPECT_EQ(calls, 1);
}

TEST(EventLoopTest, ModifyAndDuplicateAdd) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  Fd a(sv[0]), b(sv[1]);
  uint32_t seen = 0;
  ASSERT_TRUE(
      (*loop)->Add(a.get(), 0, [&](uint32_t events) { seen = events; }).ok());
  EXPECT_FALSE((*loop)->Add(a.get(), EPOLLIN, [](uint32_t) {}).ok());
  EXPECT_EQ((*loop)->RunOnce(0), 0);
  ASSERT_TRUE((*loop)->Modify(a.get(), EPOLLOUT).ok());
  EXPECT_EQ((*loop)->RunOnce(1000), 1);
  EXPECT_TRUE(seen & EPOLLOUT);
  (*loop)->Remove(a.get());
  (*loop)->Remove(a.get());  // twice is harmless
}

TEST(EventLoopTest, WakeupFromAnotherThread) {
  absl::StatusOr<std::unique_ptr<EventLoop>> loop = EventLoop::Create();
  ASSERT_TRUE(loop.ok());
  EventLoop* l = loop->get();
  std::thread t([l] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    l->Wakeup();
  });
  auto start = Clock::now();
  EXPECT_EQ(l->RunOnce(5000), 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(3));
  t.join();
}

}  // namespace
}  // namespace meridian::transport
