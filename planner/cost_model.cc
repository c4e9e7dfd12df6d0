#include "planner/cost_model.h"

#include <algorithm>

namespace meridian::planner {
namespace {

// Seconds to move `bytes` at `rate` where a rate of 0 means "not a limit".
double AtRate(double bytes, double rate_Bps) {
  return rate_Bps > 0 ? bytes / rate_Bps : 0.0;
}

}  // namespace

double MessageSeconds(const CostParams& cost, double bytes, double latency_s,
                      double rate_Bps) {
  return cost.alpha_s + latency_s + AtRate(bytes, rate_Bps);
}

double ReduceSeconds(const CostParams& cost, double bytes) {
  return AtRate(bytes, cost.gamma_Bps);
}

double CopySeconds(const CostParams& cost, double bytes) {
  return AtRate(bytes, cost.mem_Bps);
}

double IncastIngressBps(const CostParams& cost, double ingress_Bps, int flows) {
  const int extra = std::max(0, flows - 1);
  return ingress_Bps / (1.0 + cost.incast_penalty * extra);
}

double RingAllReduceSeconds(const CostParams& cost, int n, double bytes,
                            double latency_s, double bandwidth_Bps) {
  if (n <= 1) return 0.0;
  const double steps = n - 1;
  const double segment = bytes / n;
  const double rate = cost.mem_Bps > 0 ? std::min(bandwidth_Bps, cost.mem_Bps)
                                       : bandwidth_Bps;
  return 2 * steps * (cost.alpha_s + latency_s) + 2 * steps * AtRate(segment, rate) +
         steps * ReduceSeconds(cost, segment);
}

}  // namespace meridian::planner
