// Calibrates the cost model's local terms on this host (planner/cost_model.h):
// gamma, the host reduce kernel's throughput, and mem, memcpy's — each timed
// over buffers larger than a last-level cache, best of a few runs.  Takes a
// few milliseconds; runs with link probing at each epoch.
#ifndef MERIDIAN_RUNTIME_SRC_COMPUTE_CALIBRATION_H_
#define MERIDIAN_RUNTIME_SRC_COMPUTE_CALIBRATION_H_

namespace meridian::runtime {

struct ComputeRates {
  double reduce_Bps = 0;  // bytes of one operand per second (float32 sum)
  double copy_Bps = 0;    // bytes copied per second
};

ComputeRates MeasureComputeRates();

}  // namespace meridian::runtime

#endif  // MERIDIAN_RUNTIME_SRC_COMPUTE_CALIBRATION_H_
