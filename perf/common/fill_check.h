// Deterministic inputs and their exact expected results.
//
// Element j of rank r's input is a function of (r, j, type, op, nranks),
// chosen so that every partial result is exactly representable whatever the
// order of reduction: sums and averages of small integers (averages of
// multiples of nranks), products of +-1 and 2 with at most four factors of 2,
// max and min over anything.  The bounds hold for the nranks at which the
// type can hold the result (int8 sums to 127, half to 2048, bfloat16 to
// 256); past them a run reports wrong elements.  Floating-point averages are
// compared within a few ulps, since the library may scale before summing;
// everything else is compared exactly.
#ifndef MERIDIAN_PERF_COMMON_FILL_CHECK_H_
#define MERIDIAN_PERF_COMMON_FILL_CHECK_H_

#include <cstddef>
#include <cstdint>

#include "meridian.h"
#include "perf/common/collective.h"

namespace meridian::perf {

struct DataPattern {
  mdnDataType_t type = mdnFloat32;
  mdnRedOp_t op = mdnSum;
  int nranks = 1;
  bool is_signed = true;
  uint32_t magnitude = 1;  // inputs lie in [-magnitude, magnitude] (or [0, m])
  double tolerance = 0.0;  // allowed |result - expected|
};

DataPattern MakePattern(Collective coll, mdnDataType_t type, mdnRedOp_t op,
                        int nranks);

// Element `index` of `rank`'s input, in the global numbering of the
// collective (all-gather: rank * count + k).
double InputValue(const DataPattern& pattern, int rank, size_t index);
// The pattern's op over all ranks' InputValue(r, index).
double ReducedValue(const DataPattern& pattern, size_t index);

// Writes this rank's geometry.send_count input elements into sendbuf.
void FillInput(Collective coll, const DataPattern& pattern,
               const Geometry& geometry, int rank, void* sendbuf);
// Writes this rank's expected output into expected and returns its element
// count: 0 when the rank has none (reduce, not root).
size_t FillExpected(Collective coll, const DataPattern& pattern,
                    const Geometry& geometry, int rank, int root,
                    void* expected);

// Fills with a byte pattern that no correct output has everywhere, so an
// output never written shows up as wrong.
void FillPoison(void* buf, size_t bytes);

// Elements of got that differ from expected beyond pattern.tolerance.
size_t CountWrong(const DataPattern& pattern, const void* got,
                  const void* expected, size_t count);

uint64_t HashBytes(const void* buf, size_t bytes);

}  // namespace meridian::perf

#endif  // MERIDIAN_PERF_COMMON_FILL_CHECK_H_
