// The planner's cost model: what one message, one reduction and one copy
// cost, after "Revisiting the Time Cost Model of AllReduce" (GenModel):
//
//   message   alpha + latency + bytes / rate      (rate: the flow's share of
//             the path, the NICs, the trunk and the receiver's memory)
//   reduce    bytes / gamma                       (on the progress thread)
//   copy      bytes / mem                         (on the progress thread)
//   incast    a receiver with k concurrent inbound flows delivers only
//             ingress / (1 + incast_penalty * (k - 1)) in total
//
// The simulator (simulator.h) applies these formulas to every step of a
// plan; the functions below are the per-message and per-step pieces, also
// used for closed-form estimates.
//
// Calibration (runtime side; every term comes from a measurement, the
// defaults are only for plans made before any measurement):
//   alpha    per link, from ping-pong of empty messages through the Link:
//            alpha = (RTT_link - RTT_kernel) / 2, where RTT_kernel is the
//            socket's own RTT estimate (tcp_info), which excludes the
//            framing, syscalls and wake-ups that alpha stands for.
//   latency, bandwidth
//            per link, from the same ping-pong (latency = RTT_kernel / 2)
//            and a bulk probe: bandwidth = bytes / (T_bulk - alpha - latency),
//            or the slope of T over a few message sizes (planner/probe.h).
//   gamma    time math::Reduce over buffers larger than the last-level cache
//            for the operation's data type: gamma = operand bytes / seconds.
//   mem      time memcpy over buffers larger than the last-level cache:
//            mem = bytes copied / seconds.
//   incast   fan-in probe: k = 1, 2, 4, ... peers send to one receiver at
//            once; with aggregate goodput G_k, 1 + p (k - 1) = G_1 / G_k, so
//            p is the least-squares slope of (G_1 / G_k - 1) against (k - 1).
#ifndef MERIDIAN_PLANNER_COST_MODEL_H_
#define MERIDIAN_PLANNER_COST_MODEL_H_

namespace meridian::planner {

struct CostParams {
  // Fixed cost of one message at each end (posting, framing, descriptor
  // check, wake-up).  Both ends pay it at the same time, so a message's
  // critical path sees it once.  20 us: a TCP Link on a modern host.
  double alpha_s = 20e-6;
  // Reduction throughput of the progress thread, bytes of one operand per
  // second (0: free).  8 GB/s: a vectorised float sum out of DRAM.
  double gamma_Bps = 8e9;
  // Memory-access throughput (0: free): local copies run at this rate on
  // the progress thread, and all bytes landing at one receiver share it
  // (the memory-access term).  10 GB/s: single-threaded memcpy out of DRAM.
  double mem_Bps = 10e9;
  // Receiver goodput lost per extra concurrent inbound flow (the incast
  // term); applies where the receiver's ingress capacity is known.
  // 0.02: a few percent per flow, typical of shallow-buffered switches.
  double incast_penalty = 0.02;
  // Window shares: a flow gets at most its share of each network resource
  // among all the flows the plan runs over it, even while some of them
  // pause (flow_network.h).  TCP sizes a connection's window to the share
  // it has been getting and grows it over many round trips, so the share a
  // paused flow leaves mostly goes unused; measured, plans whose flows take
  // turns on a bottleneck (a double binary tree across a trunk or out of a
  // slow peer) ran 21-28 % slower than the work-conserving model predicted
  // (perf/RESULTS.md).  false: paused flows' shares go to the busy ones.
  bool window_shares = true;
};

// One message over an otherwise idle path at `rate_Bps`.
double MessageSeconds(const CostParams& cost, double bytes, double latency_s,
                      double rate_Bps);

// Reducing `bytes` (of one operand) into a destination.
double ReduceSeconds(const CostParams& cost, double bytes);

// Copying `bytes` locally.
double CopySeconds(const CostParams& cost, double bytes);

// Total goodput a receiver of capacity ingress_Bps delivers to `flows`
// concurrent inbound flows (flows >= 1).
double IncastIngressBps(const CostParams& cost, double ingress_Bps, int flows);

// Closed form for a ring all-reduce of `bytes` over `n` ranks on a uniform
// network (one segment per rank, no pipelining, links not shared):
//   2 (n-1) (alpha + latency) + 2 (n-1)/n * bytes / min(bw, mem)
//   + (n-1)/n * bytes / gamma.
double RingAllReduceSeconds(const CostParams& cost, int n, double bytes,
                            double latency_s, double bandwidth_Bps);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_COST_MODEL_H_
