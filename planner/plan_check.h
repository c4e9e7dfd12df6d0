// Symbolic correctness check of a set of plans (one per rank): runs them
// in the simulator's schedule, but instead of numbers every element of
// every buffer holds which ranks' inputs it sums, which input element it
// came from, and which step produced it.  A plan generator's tests call it
// for every world size they care about; it needs no sockets and no data.
//
// It reports (InvalidArgument, naming rank, step and element range):
//   - a read of elements never written (scratch, output before use);
//   - a reduction of two partial sums that share a rank (double counting)
//     or of different elements, or of a value already finalized;
//   - finalize on a partial sum, on a non-average operation, or missing;
//   - a buffer written while a posted send may still read it, or read or
//     written while a posted receive may still write it (in this schedule);
//   - two accesses to one element of a rank, at least one a write, that
//     this schedule happens to order but the plan's dependencies do not
//     (the read of a value must depend on its writer, an overwrite on the
//     previous writer and on the last reader): another schedule the
//     executor may take would run them the other way round;
//   - a write to the input out of place (the caller's read-only send
//     buffer), and a reduce's non-root not leaving its send buffer as it was;
//   - a wrong final output for the collective: all-reduce, reduce (root) and
//     reduce-scatter must hold the sum of every rank's input at the right
//     elements, all-gather and broadcast the right rank's input;
//   - a final value produced more than once: every rank's copy of an output
//     element must be the bytes one step computed (bit-identical results);
// plus the simulator's own errors: pairing (InvalidArgument) and deadlock
// (FailedPrecondition).
//
// Buffers are laid out as the runtime lays them out (runtime/src/
// validate.cc).  In place, the input is the output (all-reduce, barrier,
// broadcast, reduce), or a window of it at rank * count (all-gather), or
// the output is the window of the input at rank * count (reduce-scatter).
// A reduce's non-roots always run in place on their send buffer (they
// have no receive buffer: build their plans with in_place = true, as the
// runtime does); a broadcast's non-roots have no send buffer unless in
// place.
//
// Cost: about 3 us per step on a 2-core VM (an N = 1024 ring all-reduce,
// 4.2 million steps, takes ~12 s); memory follows the live values.
#ifndef MERIDIAN_PLANNER_PLAN_CHECK_H_
#define MERIDIAN_PLANNER_PLAN_CHECK_H_

#include <vector>

#include "absl/status/status.h"
#include "planner/plan.h"

namespace meridian::planner {

// plans[r] is rank r's finalized plan for `request` (request.rank is
// ignored; collective, count, root, world_size, in_place and average are
// what the plans must implement).  kTransfer plans are checked for pairing,
// deadlock, hazards and reads only.
absl::Status CheckPlansSymbolically(const std::vector<Plan>& plans,
                                    const PlanRequest& request);

}  // namespace meridian::planner

#endif  // MERIDIAN_PLANNER_PLAN_CHECK_H_
