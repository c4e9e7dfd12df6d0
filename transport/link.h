// The Link abstraction: one logical, reliable, ordered-per-message channel to
// one peer, whatever carries it (K TCP connections, UCX, verbs).  Algorithms
// in collectives/ are written against this interface and know nothing of
// sockets (as Gloo's algorithms know only pairs and buffers).
//
// Messages are identified by (op_seq, msg): the operation's sequence number
// and the message's index within that operation for this ordered pair of
// peers.  A message may be split into frames and striped over connections;
// the receiver reassembles it by offset directly into the posted buffer.
//
// All methods and all LinkEvents callbacks run on the owning communicator's
// progress thread (the thread that drives the EventLoop).
#ifndef MERIDIAN_TRANSPORT_LINK_H_
#define MERIDIAN_TRANSPORT_LINK_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "transport/framing.h"

namespace meridian::transport {

class LinkEvents {
 public:
  virtual ~LinkEvents() = default;
  // Every byte of the message has been handed to the kernel; the send
  // buffer may be reused.
  virtual void OnSendDone(int peer, uint64_t op_seq, uint32_t msg) = 0;
  // Every byte of the message is in the posted receive buffer.
  virtual void OnRecvDone(int peer, uint64_t op_seq, uint32_t msg) = 0;
  // A data frame for the posted receive (op_seq, msg), or for the
  // operation announced by ExpectOp, carried a different descriptor: the
  // peers called different operations.  The frame's payload was discarded;
  // the caller is expected to abort the operation.
  virtual void OnDescriptorMismatch(int peer, uint64_t op_seq,
                                    const OpDescriptor& expected,
                                    const OpDescriptor& received) = 0;
  // The peer aborted operation op_seq and said why.
  virtual void OnRemoteAbort(int peer, uint64_t op_seq,
                             const std::string& reason) = 0;
  // The link failed (closed, reset, malformed frame, receive larger than
  // posted).  The link is dead after this; no further events come from it.
  virtual void OnLinkError(int peer, const absl::Status& status) = 0;
};

// What a link's receive side saw of real traffic since the last
// TakePassiveSample (see Link::TakePassiveSample).
struct PassiveSample {
  // Data payload read while the link was streaming, and the time it took:
  // each read that followed the link's previous data read within a short
  // gap adds its bytes and the time since that read.
  uint64_t bytes = 0;
  double seconds = 0;
  // Payload read by the first read of each streak: it arrived at some time
  // since the previous streak ended, unknown, so it is kept out of the rate
  // (bytes + unclocked_bytes = all data payload received).
  uint64_t unclocked_bytes = 0;
};

class Link {
 public:
  virtual ~Link() = default;

  virtual int peer() const = 0;
  virtual int num_connections() const = 0;
  virtual bool failed() const = 0;

  // Queues message (op_seq, msg) of len bytes (len may be 0: one empty frame
  // still travels, carrying the descriptor).  Messages to one peer enter
  // the wire in posting order; their frames are spread over all connections
  // by whichever connection has room.  data must stay valid until
  // OnSendDone.
  virtual void PostSend(uint64_t op_seq, uint32_t msg, const OpDescriptor& desc,
                        const void* data, size_t len) = 0;

  // Posts the buffer for message (op_seq, msg) of exactly len bytes.  Frames
  // of a message that is not posted yet wait in the socket (the connection
  // stops reading: back-pressure, no unbounded buffering).
  virtual void PostRecv(uint64_t op_seq, uint32_t msg, const OpDescriptor& desc,
                        void* data, size_t len) = 0;

  // The operation this rank runs now: a frame of op_seq whose descriptor
  // differs from `desc` is reported at once, even when no receive is posted
  // for it — peers that call different collectives may run plans whose
  // messages never pair up, and must not wait for a timeout to find out.
  virtual void ExpectOp(uint64_t op_seq, const OpDescriptor& desc) {
    (void)op_seq;
    (void)desc;
  }

  // The path to the peer was measured at `rate_Bps` with a round trip of
  // `rtt_s`: a link with several parallel connections may send over fewer
  // of them from now on (only as many as cover rate x RTT).  Returns the
  // connections it will use.  Links with one path ignore it.
  virtual int FitToPath(double rate_Bps, double rtt_s) {
    (void)rate_Bps;
    (void)rtt_s;
    return num_connections();
  }
  // Per operation: send over every connection (`all`), or over the number
  // FitToPath chose.  A plan that runs one flow per path (a ring) keeps
  // every connection's congestion window in use; fitting pays off where a
  // plan runs several flows over one trunk at once, and costs a window
  // that must grow back where one flow would have had the path alone.
  virtual void SendOverAll(bool all) { (void)all; }

  // The receive rate this link observed in real traffic (bytes / seconds of
  // the sample, idle time left out), accumulated since the last call, which
  // starts a new sample.  A passive estimate for the planner: it costs no
  // probing, but it is only as fast as the peer had data to send.  Links
  // that do not measure return an empty sample.
  virtual PassiveSample TakePassiveSample() { return {}; }

  // Tells the peer that operation op_seq is aborted, with a reason.
  virtual void SendAbort(uint64_t op_seq, const std::string& reason) = 0;

  // Forgets all sends and receives of operations <= op_seq that are not
  // finished.  Frames already partly written are completed (so framing stays
  // intact); frames that arrive later for those operations are read and
  // discarded.  No events are raised for forgotten messages.
  virtual void CancelThrough(uint64_t op_seq) = 0;
};

}  // namespace meridian::transport

#endif  // MERIDIAN_TRANSPORT_LINK_H_
