// Test harness for TCP meshes inside one process.  Meshes are built on one
// thread per rank (ConnectTcpMesh blocks); afterwards the test thread drives
// every rank's EventLoop itself, so all callbacks run on it and the tests
// need no locks.
#ifndef MERIDIAN_TESTS_UNIT_TRANSPORT_TEST_MESH_H_
#define MERIDIAN_TESTS_UNIT_TRANSPORT_TEST_MESH_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "transport/event_loop.h"
#include "transport/link.h"
#include "transport/socket.h"
#include "transport/tcp/tcp_link.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::transport {
namespace testing_mesh {

// gmock is not linked into the unit tests, hence no HasSubstr.
#define EXPECT_HAS_SUBSTR(text, part)                        \
  EXPECT_NE(std::string(text).find(part), std::string::npos) \
      << "'" << (text) << "' does not contain '" << (part) << "'"

struct Ev {
  enum Kind { kSendDone, kRecvDone, kMismatch, kRemoteAbort, kLinkError };
  Ev(Kind k, int p, uint64_t o = 0, uint32_t m = 0)
      : kind(k), peer(p), op(o), msg(m) {}
  Kind kind;
  int peer;
  uint64_t op;
  uint32_t msg;
  std::string text;
  absl::Status status;
  OpDescriptor expected{};
  OpDescriptor received{};
};

class Recorder : public LinkEvents {
 public:
  void OnSendDone(int peer, uint64_t op, uint32_t msg) override {
    Push(Ev(Ev::kSendDone, peer, op, msg));
  }
  void OnRecvDone(int peer, uint64_t op, uint32_t msg) override {
    Push(Ev(Ev::kRecvDone, peer, op, msg));
  }
  void OnDescriptorMismatch(int peer, uint64_t op, const OpDescriptor& expected,
                            const OpDescriptor& received) override {
    Ev e{Ev::kMismatch, peer, op};
    e.expected = expected;
    e.received = received;
    Push(e);
  }
  void OnRemoteAbort(int peer, uint64_t op,
                     const std::string& reason) override {
    Ev e{Ev::kRemoteAbort, peer, op};
    e.text = reason;
    Push(e);
  }
  void OnLinkError(int peer, const absl::Status& status) override {
    Ev e{Ev::kLinkError, peer};
    e.status = status;
    Push(e);
  }

  int Count(Ev::Kind kind) const {
    int n = 0;
    for (const Ev& e : evs) n += e.kind == kind;
    return n;
  }
  bool Has(Ev::Kind kind, int peer, uint64_t op, uint32_t msg) const {
    for (const Ev& e : evs) {
      if (e.kind == kind && e.peer == peer && e.op == op && e.msg == msg)
        return true;
    }
    return false;
  }
  const Ev* First(Ev::Kind kind) const {
    for (const Ev& e : evs) {
      if (e.kind == kind) return &e;
    }
    return nullptr;
  }

  std::vector<Ev> evs;
  std::function<void(const Ev&)> hook;  // runs inside the callback

 private:
  void Push(Ev e) {
    evs.push_back(e);
    if (hook) hook(e);
  }
};

struct Rank {
  std::unique_ptr<EventLoop> loop;  // declared first: outlives the links
  std::optional<TcpListener> listener;
  Recorder rec;
  std::vector<std::unique_ptr<Link>> links;
  absl::Status status;
};

inline TcpOptions SmallFrames(int k) {
  TcpOptions o;
  o.connections_per_peer = k;
  o.frame_bytes = 64 << 10;
  return o;
}

class TestMesh {
 public:
  explicit TestMesh(int n) {
    for (int i = 0; i < n; ++i) {
      auto r = std::make_unique<Rank>();
      r->loop = std::move(EventLoop::Create()).value();
      absl::StatusOr<TcpListener> l =
          TcpListener::Open(HostPort{"127.0.0.1", 0});
      EXPECT_TRUE(l.ok()) << l.status();
      r->listener.emplace(std::move(l).value());
      addresses.push_back(r->listener->address());
      ranks.push_back(std::move(r));
    }
  }

  MeshSpec Spec(int rank, const TcpOptions& options) const {
    MeshSpec s;
    s.group_id = 42;
    s.epoch = 1;
    s.rank = rank;
    s.world_size = static_cast<int>(ranks.size());
    s.peer_addresses = addresses;
    s.options = options;
    return s;
  }

  // Runs ConnectTcpMesh for `who` (default: every rank) concurrently.
  void Connect(const TcpOptions& options, int deadline_ms = 5000,
               std::function<void(MeshSpec&)> tweak = {},
               std::vector<int> who = {}) {
    if (who.empty()) {
      for (size_t i = 0; i < ranks.size(); ++i)
        who.push_back(static_cast<int>(i));
    }
    Deadline deadline = DeadlineAfterMs(deadline_ms);
    std::vector<std::thread> threads;
    for (int i : who) {
      MeshSpec spec = Spec(i, options);
      if (tweak) tweak(spec);
      threads.emplace_back([this, i, spec, deadline] {
        Rank& r = *ranks[i];
        auto links =
            ConnectTcpMesh(spec, *r.listener, r.loop.get(), &r.rec, deadline);
        r.status = links.status();
        if (links.ok()) r.links = std::move(links).value();
      });
    }
    for (std::thread& t : threads) t.join();
  }

  // Drives every loop until pred() holds; false on timeout.
  bool RunUntil(const std::function<bool()>& pred, int timeout_ms = 5000) {
    Deadline deadline = DeadlineAfterMs(timeout_ms);
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      int handled = 0;
      for (auto& r : ranks) handled += r->loop->RunOnce(0);
      if (handled == 0) std::this_thread::yield();
    }
    return true;
  }
  void RunFor(int ms) {
    RunUntil([] { return false; }, ms);
  }

  Link* link(int from, int to) { return ranks[from]->links[to].get(); }
  TcpLink* tcp(int from, int to) {
    return static_cast<TcpLink*>(link(from, to));
  }
  Recorder& rec(int r) { return ranks[r]->rec; }

  std::vector<std::unique_ptr<Rank>> ranks;
  std::vector<HostPort> addresses;  // kept when a test closes a listener
};

inline OpDescriptor Desc(uint8_t tag) {
  OpDescriptor d{};
  d.fill(tag);
  return d;
}

inline std::vector<uint8_t> Pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

}  // namespace testing_mesh
}  // namespace meridian::transport

#endif  // MERIDIAN_TESTS_UNIT_TRANSPORT_TEST_MESH_H_
