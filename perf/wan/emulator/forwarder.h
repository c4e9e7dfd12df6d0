// The emulator's core, without any I/O: packets read from a peer are routed
// by their IPv4 destination, cross the links of their path hop by hop (the
// arrival at the next link is the delivery time of the previous one) and
// are handed to a Sink when they reach the destination.  Time is passed in,
// so the tests drive it with a fake clock; meridian_wanem.cc adds the TUN
// devices, epoll and the timerfd.
#ifndef MERIDIAN_PERF_WAN_EMULATOR_FORWARDER_H_
#define MERIDIAN_PERF_WAN_EMULATOR_FORWARDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "perf/wan/emulator/config.h"
#include "perf/wan/emulator/link.h"

namespace meridian::wanem {

struct Packet {
  uint8_t* data = nullptr;  // buffer_bytes() of the pool
  uint32_t len = 0;
  uint16_t src = 0, dst = 0;
  uint16_t hop = 0;       // index in the path of the link it is crossing
  Packet* next = nullptr;  // free list / a destination's write backlog
};

// Pre-allocated packet buffers: grows in chunks up to a limit, then hands out
// nothing; no allocation once the high-water mark is reached.
class PacketPool {
 public:
  PacketPool(uint32_t buffer_bytes, size_t max_packets);
  ~PacketPool();
  PacketPool(const PacketPool&) = delete;
  PacketPool& operator=(const PacketPool&) = delete;

  Packet* Get();  // nullptr when the limit is reached
  void Put(Packet* p);

  uint32_t buffer_bytes() const { return buffer_bytes_; }
  size_t allocated() const { return allocated_; }
  size_t in_use() const { return in_use_; }
  size_t high_water() const { return high_water_; }

 private:
  static constexpr size_t kChunk = 64;
  uint32_t buffer_bytes_;
  size_t max_packets_;
  size_t allocated_ = 0, in_use_ = 0, high_water_ = 0;
  Packet* free_ = nullptr;
  std::vector<std::unique_ptr<uint8_t[]>> buffers_;
  std::vector<std::unique_ptr<Packet[]>> headers_;
};

struct ForwarderCounters {
  uint64_t rx_packets = 0, rx_bytes = 0;  // read from the peers
  uint64_t non_ipv4 = 0;       // dropped: not an IPv4 packet
  uint64_t unknown_dst = 0;    // dropped: destination is no peer (or itself)
  uint64_t delivered = 0, delivered_bytes = 0;  // handed to the sink
  // How late (RunDue's now - due time) the deliveries were handed over.
  uint64_t late_ns_sum = 0, late_ns_max = 0;
};

class Forwarder {
 public:
  class Sink {
   public:
    virtual ~Sink() = default;
    // Takes the packet (gives it back to the pool when done with it).
    virtual void Deliver(Packet* p) = 0;
  };

  Forwarder(const Config& config, uint64_t seed, PacketPool* pool);

  // A packet read from peer `src` at `now_ns` (p->len set).  Takes it: it
  // is queued on the first link of its path or dropped (and counted).
  void Ingress(Packet* p, int src, int64_t now_ns);
  // Moves every packet due at or before `now_ns` to its next link, or to the
  // sink at the end of its path.
  void RunDue(int64_t now_ns, Sink* sink);
  // When the next packet is due; INT64_MAX when none is in flight.
  int64_t NextDue() const {
    return heap_.empty() ? INT64_MAX : heap_.front().due_ns;
  }
  size_t in_flight() const { return heap_.size(); }

  // Peer index of an IPv4 address (host order), or -1.
  int PeerOf(uint32_t addr) const;

  const std::vector<LinkModel>& links() const { return links_; }
  const ForwarderCounters& counters() const { return counters_; }
  // One line per link: "link NAME packets N bytes N lost N queue_dropped N".
  std::string FormatCounters() const;

 private:
  struct Event {
    int64_t due_ns;
    uint64_t seq;  // FIFO among equal times
    Packet* p;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.seq > b.seq;
    }
  };
  // Offers p to link `p->hop` of its path at `arrive_ns`; queues the event
  // or drops the packet.
  void Enter(Packet* p, int64_t arrive_ns);
  void Push(int64_t due_ns, Packet* p);

  const Config& config_;
  PacketPool* pool_;
  Rng rng_;
  std::vector<LinkModel> links_;
  std::unordered_map<uint32_t, int> peer_of_;
  std::vector<Event> heap_;
  uint64_t seq_ = 0;
  ForwarderCounters counters_;
};

}  // namespace meridian::wanem

#endif  // MERIDIAN_PERF_WAN_EMULATOR_FORWARDER_H_
