// The timing model of one emulated link (docs/wan.md, "Links and paths"):
// random loss before the queue, a FIFO with a byte limit (tail drop), a
// serialisation rate and a propagation delay.  Pure: time is passed in, so
// the tests drive it with a fake clock.
#ifndef MERIDIAN_PERF_WAN_EMULATOR_LINK_H_
#define MERIDIAN_PERF_WAN_EMULATOR_LINK_H_

#include <cstdint>

namespace meridian::wanem {

// xoshiro256** seeded through splitmix64: reproducible loss for a --seed.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  uint64_t s_[4];
};

struct LinkCounters {
  uint64_t packets = 0;  // accepted (queued, hence forwarded)
  uint64_t bytes = 0;
  uint64_t lost = 0;           // dropped by random loss
  uint64_t queue_dropped = 0;  // dropped by the queue limit
};

class LinkModel {
 public:
  enum class Verdict { kAccepted, kLost, kQueueFull };

  // rate_bps 0: unlimited (no serialisation time, no queue).
  LinkModel(uint64_t rate_bps, int64_t delay_ns, double loss,
            uint64_t queue_bytes);

  // A packet of `bytes` reaches the link at `arrive_ns` (non-decreasing from
  // one call to the next).  `uniform` is a draw in [0, 1) for the loss (not
  // looked at when the loss is 0).  When accepted, *deliver_ns is when it
  // reaches the far end: max(arrive, link free) + serialisation + delay.
  Verdict Offer(int64_t arrive_ns, uint32_t bytes, double uniform,
                int64_t* deliver_ns);

  // Bytes still to serialise at `now_ns` (what the queue holds, counting the
  // unsent part of the packet on the wire).
  uint64_t BacklogBytes(int64_t now_ns) const;
  // Serialisation time of `bytes`, rounded to the nearest nanosecond.
  int64_t SerializationNs(uint32_t bytes) const;

  double loss() const { return loss_; }
  uint64_t rate_bps() const { return rate_bps_; }
  int64_t delay_ns() const { return delay_ns_; }
  uint64_t queue_bytes() const { return queue_bytes_; }
  const LinkCounters& counters() const { return counters_; }

 private:
  uint64_t rate_bps_;
  int64_t delay_ns_;
  double loss_;
  uint64_t queue_bytes_;
  int64_t free_ns_ = INT64_MIN;  // when the last accepted packet is sent
  LinkCounters counters_;
};

}  // namespace meridian::wanem

#endif  // MERIDIAN_PERF_WAN_EMULATOR_LINK_H_
