#include "perf/wan/emulator/forwarder.h"

#include <algorithm>
#include <cstdio>

namespace meridian::wanem {

PacketPool::PacketPool(uint32_t buffer_bytes, size_t max_packets)
    : buffer_bytes_(buffer_bytes), max_packets_(max_packets) {}

PacketPool::~PacketPool() = default;

Packet* PacketPool::Get() {
  if (!free_) {
    if (allocated_ + kChunk > max_packets_) return nullptr;
    buffers_.emplace_back(new uint8_t[kChunk * buffer_bytes_]);
    headers_.emplace_back(new Packet[kChunk]);
    for (size_t i = 0; i < kChunk; ++i) {
      Packet* p = &headers_.back()[i];
      p->data = buffers_.back().get() + i * buffer_bytes_;
      p->next = free_;
      free_ = p;
    }
    allocated_ += kChunk;
  }
  Packet* p = free_;
  free_ = p->next;
  p->next = nullptr;
  if (++in_use_ > high_water_) high_water_ = in_use_;
  return p;
}

void PacketPool::Put(Packet* p) {
  p->next = free_;
  free_ = p;
  --in_use_;
}

Forwarder::Forwarder(const Config& config, uint64_t seed, PacketPool* pool)
    : config_(config), pool_(pool), rng_(seed) {
  for (const auto& l : config.links)
    links_.emplace_back(l.rate_bps, l.delay_ns, l.loss, l.queue_bytes);
  for (const auto& p : config.peers) peer_of_[p.addr] = p.index;
  heap_.reserve(16384);
}

int Forwarder::PeerOf(uint32_t addr) const {
  auto it = peer_of_.find(addr);
  return it == peer_of_.end() ? -1 : it->second;
}

void Forwarder::Ingress(Packet* p, int src, int64_t now_ns) {
  ++counters_.rx_packets;
  counters_.rx_bytes += p->len;
  const uint8_t* d = p->data;
  if (p->len < 20 || (d[0] >> 4) != 4) {
    ++counters_.non_ipv4;
    pool_->Put(p);
    return;
  }
  uint32_t dst_addr = (uint32_t{d[16]} << 24) | (uint32_t{d[17]} << 16) |
                      (uint32_t{d[18]} << 8) | uint32_t{d[19]};
  int dst = PeerOf(dst_addr);
  if (dst < 0 || dst == src) {
    ++counters_.unknown_dst;
    pool_->Put(p);
    return;
  }
  p->src = static_cast<uint16_t>(src);
  p->dst = static_cast<uint16_t>(dst);
  p->hop = 0;
  Enter(p, now_ns);
}

void Forwarder::Enter(Packet* p, int64_t arrive_ns) {
  LinkModel& link = links_[config_.paths[p->src][p->dst][p->hop]];
  double u = link.loss() > 0 ? rng_.Uniform() : 1.0;
  int64_t deliver_ns = 0;
  if (link.Offer(arrive_ns, p->len, u, &deliver_ns) !=
      LinkModel::Verdict::kAccepted) {
    pool_->Put(p);
    return;
  }
  Push(deliver_ns, p);
}

void Forwarder::Push(int64_t due_ns, Packet* p) {
  heap_.push_back(Event{due_ns, seq_++, p});
  std::push_heap(heap_.begin(), heap_.end(), Later());
}

void Forwarder::RunDue(int64_t now_ns, Sink* sink) {
  while (!heap_.empty() && heap_.front().due_ns <= now_ns) {
    std::pop_heap(heap_.begin(), heap_.end(), Later());
    Event e = heap_.back();
    heap_.pop_back();
    Packet* p = e.p;
    if (++p->hop < config_.paths[p->src][p->dst].size()) {
      Enter(p, e.due_ns);  // arrives at the next link when the last delivers
    } else {
      ++counters_.delivered;
      counters_.delivered_bytes += p->len;
      uint64_t late = static_cast<uint64_t>(now_ns - e.due_ns);
      counters_.late_ns_sum += late;
      if (late > counters_.late_ns_max) counters_.late_ns_max = late;
      sink->Deliver(p);
    }
  }
}

std::string Forwarder::FormatCounters() const {
  std::string out;
  char line[512];
  for (size_t i = 0; i < links_.size(); ++i) {
    const LinkCounters& c = links_[i].counters();
    std::snprintf(line, sizeof line,
                  "link %s packets %llu bytes %llu lost %llu queue_dropped %llu\n",
                  config_.links[i].name.c_str(),
                  static_cast<unsigned long long>(c.packets),
                  static_cast<unsigned long long>(c.bytes),
                  static_cast<unsigned long long>(c.lost),
                  static_cast<unsigned long long>(c.queue_dropped));
    out += line;
  }
  return out;
}

}  // namespace meridian::wanem
