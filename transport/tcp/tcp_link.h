// A Link over K non-blocking TCP connections to one peer.  Every message is
// cut into frames of at most TcpOptions::frame_bytes, so one large message
// uses all K connections at once.  Frames wait in one queue shared by the
// link and a connection takes the next one only when its socket accepts it
// (work stealing): on long paths TCP_NOTSENT_LOWAT keeps each socket's unsent
// backlog near one frame, so a connection slowed by loss or a shrunken window
// holds back at most the frame it is writing, never a fixed share of the
// message.  Payloads travel straight from the sender's buffer (writev) into
// the receiver's posted buffer (readv at the frame's offset).
//
// Single-threaded: every method and every handler runs on the thread that
// drives the EventLoop, which must outlive the link.
#ifndef MERIDIAN_TRANSPORT_TCP_TCP_LINK_H_
#define MERIDIAN_TRANSPORT_TCP_TCP_LINK_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "transport/event_loop.h"
#include "transport/framing.h"
#include "transport/link.h"
#include "transport/socket.h"
#include "transport/tcp/tcp_mesh.h"

namespace meridian::transport {

class TcpLink final : public Link {
 public:
  // Takes connected sockets (index = connection index, all to `peer`), makes
  // them non-blocking and registers them with `loop`.  `peer_name` appears
  // in error messages, e.g. "127.0.0.1:4567".
  static absl::StatusOr<std::unique_ptr<TcpLink>> Create(
      int peer, std::string peer_name, std::vector<Fd> connections,
      const TcpOptions& options, EventLoop* loop, LinkEvents* events);
  ~TcpLink() override;

  int peer() const override { return peer_; }
  int num_connections() const override {
    return static_cast<int>(conns_.size());
  }
  bool failed() const override { return failed_; }

  void PostSend(uint64_t op_seq, uint32_t msg, const OpDescriptor& desc,
                const void* data, size_t len) override;
  void PostRecv(uint64_t op_seq, uint32_t msg, const OpDescriptor& desc,
                void* data, size_t len) override;
  void ExpectOp(uint64_t op_seq, const OpDescriptor& desc) override;
  // Sends data over the first ConnectionsForRate(...) connections only
  // (path_sizing.h), unless the user fixed the count
  // (TcpOptions::connections_per_peer > 0).  The others stay open and keep
  // receiving: the peer decides its own sending side.
  int FitToPath(double rate_Bps, double rtt_s) override;
  void SendOverAll(bool all) override;
  int sending_connections() const {
    return over_all_ ? static_cast<int>(conns_.size()) : fitted_conns_;
  }
  void SendAbort(uint64_t op_seq, const std::string& reason) override;
  void CancelThrough(uint64_t op_seq) override;
  // Data payload read in streaks (reads no more than kStreamGap apart,
  // tcp_link_recv.cc), over all connections of the link together.
  PassiveSample TakePassiveSample() override;

  // Bytes (headers included) written to / read from connection `conn` so
  // far; lets tests and tools check that striping uses every connection.
  uint64_t bytes_sent(int conn) const { return conns_[conn].bytes_sent; }
  uint64_t bytes_received(int conn) const {
    return conns_[conn].bytes_received;
  }

 private:
  struct MsgKey {
    uint64_t op_seq;
    uint32_t msg;
    bool operator==(const MsgKey& o) const {
      return op_seq == o.op_seq && msg == o.msg;
    }
  };
  struct MsgKeyHash {
    size_t operator()(const MsgKey& k) const {
      return static_cast<size_t>(k.op_seq * 0x9E3779B97F4A7C15ull) ^ k.msg;
    }
  };

  struct SendFrame {
    uint8_t header[kFrameHeaderSize];
    const uint8_t* payload = nullptr;
    uint32_t length = 0;
    uint32_t msg = 0;
    uint64_t op_seq = 0;
    bool is_data = true;
    // Holds the payload when the caller's buffer may no longer be used: abort
    // reasons, and the rest of a cancelled frame that was already started.
    std::vector<uint8_t> owned;
  };

  enum class RxState { kHeader, kPayload, kParked };

  struct Conn {
    Fd fd;
    uint32_t interest = 0;  // epoll mask currently registered

    // Send side: frames this connection has claimed (and urgent frames).
    std::deque<SendFrame> queue;
    size_t queued_bytes = 0;  // not yet written, headers included
    size_t head_written = 0;  // bytes of queue.front() already written
    uint64_t bytes_sent = 0;

    // Receive side.
    RxState rx = RxState::kHeader;
    uint8_t hdr[kFrameHeaderSize];
    size_t hdr_have = 0;
    FrameHeader frame;        // decoded header of the frame being received
    uint8_t* dest = nullptr;  // where the payload goes; nullptr: discard
    bool deliver = false;     // the frame counts toward a posted receive
    uint64_t payload_done = 0;
    std::string abort_reason;
    bool resume_pending = false;  // parked, and its receive has been posted
    // Reading a frame whose receive is not posted into stash_buf.
    bool stashing = false;
    std::vector<uint8_t> stash_buf;
    // The peer closed this connection at a frame boundary.  Not an error by
    // itself: its other connections may still hold frames (a peer that
    // finished sends everything, then closes all K connections at once).
    bool eof = false;
    uint64_t bytes_received = 0;
  };

  struct PostedRecv {
    uint8_t* data;
    size_t len;
    size_t received = 0;
    OpDescriptor desc;
    bool mismatched = false;
  };

  TcpLink(int peer, std::string peer_name, const TcpOptions& options,
          EventLoop* loop, LinkEvents* events);
  absl::Status Start(std::vector<Fd> connections);

  // Marks the link dead, closes its sockets and reports once.
  void Fail(const absl::Status& status);
  absl::Status ConnectionLost(const char* what, int err) const;
  absl::Status ClosedByPeer() const;
  std::string Who() const;  // "rank 3 (127.0.0.1:4567)"
  void UpdateInterest(Conn& c);
  void OnConnEvents(size_t index, uint32_t events);

  // Send path (tcp_link.cc).  Returns false when the link failed or was
  // destroyed by a callback, so the caller must not touch it again.
  bool WriteSome(Conn& c);
  // Moves frames from the shared queue to `c` until it holds enough for one
  // sendmsg; Unclaim gives back those the socket did not take.
  void Claim(Conn& c, size_t budget);
  void Unclaim(Conn& c);
  bool Sends(const Conn& c) const {
    return &c - conns_.data() < sending_connections();
  }
  // Inserts a frame ahead of every queued data frame that has not started.
  SendFrame& InsertUrgent(Conn& c);
  void CancelSends(uint64_t op_seq);

  // Receive path (tcp_link_recv.cc).  ReadSome: one batch of reads on `c`
  // (ReadBatch), then its data payload is added to the passive sample.
  bool ReadSome(Conn& c);
  bool ReadBatch(Conn& c);
  void NoteBatch();
  bool OnHeader(Conn& c);
  bool BeginData(Conn& c);
  void Discard(Conn& c);
  bool CompleteFrame(Conn& c);
  void OnKick();
  void Kick();
  void CancelRecvs(uint64_t op_seq);
  // Delivers stashed frames of `key` into its posted receive; false when
  // the link failed or was destroyed by a callback.
  bool DeliverStash(const MsgKey& key);
  uint8_t* Scratch();
  bool Cancelled(uint64_t op_seq) const {
    return any_cancelled_ && op_seq <= cancelled_through_;
  }

  const int peer_;
  const std::string peer_name_;
  const TcpOptions options_;
  const size_t frame_bytes_;
  // Connections [0, sending_connections()) claim data frames: all of them
  // (over_all_, SendOverAll), or the fitted_conns_ that FitToPath chose.
  int fitted_conns_ = 0;
  bool over_all_ = false;
  EventLoop* const loop_;
  LinkEvents* const events_;

  std::vector<Conn> conns_;  // never resized after Start: references stay valid
  Fd kick_;  // eventfd: runs parked work outside the caller's stack
  bool failed_ = false;
  uint64_t cancelled_through_ = 0;
  bool any_cancelled_ =
      false;  // op_seq 0 is valid, so the mark alone can't say
  // An error found where raising OnLinkError at once would pull the link out
  // from under its caller; reported from the next kick instead.
  absl::Status deferred_error_;

  // The operation announced by ExpectOp, and whether a mismatch with it was
  // reported already (one event per operation).
  bool expecting_ = false;
  bool expect_reported_ = false;
  uint64_t expect_seq_ = 0;
  OpDescriptor expect_desc_{};
  // Frames that arrived before their receive was posted, kept (up to
  // kStashBytes per link) instead of parking the connection: a parked
  // connection reads nothing more, and an abort frame queued behind the
  // early one would wait for the operation timeout.
  struct StashedFrame {
    uint64_t offset;
    OpDescriptor desc;
    std::vector<uint8_t> bytes;
  };
  std::unordered_map<MsgKey, std::vector<StashedFrame>, MsgKeyHash> stash_;
  size_t stash_bytes_ = 0;
  bool stash_ready_ = false;  // a posted receive has stashed frames waiting
  // Passive rate measurement (TakePassiveSample).  The batch being read:
  // data payload so far and when its first payload read started.
  uint64_t batch_bytes_ = 0;
  bool batch_clocked_ = false;
  Clock::time_point batch_start_{};
  // The end of the link's last batch that read data payload (epoch: none).
  Clock::time_point last_data_read_{};
  PassiveSample passive_;
  // Data frames no connection has claimed yet, in posting order.
  std::deque<SendFrame> unclaimed_;
  std::unordered_map<MsgKey, uint32_t, MsgKeyHash> sends_;  // frames left
  std::unordered_map<MsgKey, PostedRecv, MsgKeyHash> recvs_;
  std::vector<MsgKey> send_done_scratch_;
  std::unique_ptr<uint8_t[]> scratch_;

  // Cleared by the destructor; a handler that fired a callback checks it
  // before touching the link again, since the callback may destroy it.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_TCP_TCP_LINK_H_
