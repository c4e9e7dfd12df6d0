#include "perf/common/fill_check.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "perf/common/datatype.h"

namespace meridian::perf {
namespace {

// Largest |result| the type holds exactly (integers, for the float types).
uint32_t ExactBound(mdnDataType_t type) {
  switch (type) {
    case mdnInt8:
      return 127;
    case mdnUint8:
      return 255;
    case mdnFloat16:
      return 2048;
    case mdnBfloat16:
      return 256;
    default:
      return 1u << 20;
  }
}

// Relative precision: 2^-(mantissa bits).
double Epsilon(mdnDataType_t type) {
  switch (type) {
    case mdnFloat16:
      return std::ldexp(1.0, -10);
    case mdnBfloat16:
      return std::ldexp(1.0, -7);
    case mdnFloat32:
      return std::ldexp(1.0, -23);
    case mdnFloat64:
      return std::ldexp(1.0, -52);
    default:
      return 0.0;
  }
}

uint32_t Mix(int rank, size_t index) {
  uint64_t x = static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ull +
               static_cast<uint64_t>(rank + 1) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return static_cast<uint32_t>(x);
}

// A value in [0, range) from h, without a division.
uint32_t Below(uint32_t h, uint32_t range) {
  return static_cast<uint32_t>((static_cast<uint64_t>(h) * range) >> 32);
}

// A value in [-m, m] for signed types, [0, m] otherwise.
double Spread(const DataPattern& p, uint32_t h) {
  if (!p.is_signed) return Below(h, p.magnitude + 1);
  return static_cast<double>(Below(h, 2 * p.magnitude + 1)) - p.magnitude;
}

}  // namespace

DataPattern MakePattern(Collective coll, mdnDataType_t type, mdnRedOp_t op,
                        int nranks) {
  DataPattern p;
  p.type = type;
  // Collectives that only copy use the whole range (max's pattern).
  p.op = HasRedOp(coll) ? op : mdnMax;
  p.nranks = nranks;
  p.is_signed = IsSigned(type);
  const uint32_t bound = ExactBound(type);
  const uint32_t n = static_cast<uint32_t>(std::max(1, nranks));
  switch (p.op) {
    case mdnSum:
      p.magnitude = std::max(1u, bound / n);
      break;
    case mdnAvg:
      p.magnitude = std::max(1u, bound / (n * n));
      break;
    case mdnProd:
      p.magnitude = 2;
      break;
    default:
      p.magnitude = bound;
      break;
  }
  if (p.op == mdnAvg && IsFloatingPoint(type)) {
    // A few ulps of the largest result, per rank.
    p.tolerance = n * Epsilon(type) * static_cast<double>(n) * p.magnitude;
  }
  return p;
}

double InputValue(const DataPattern& p, int rank, size_t index) {
  const uint32_t h = Mix(rank, index);
  switch (p.op) {
    case mdnProd: {
      const double v = (rank < 4 && Below(h, 3) == 0) ? 2.0 : 1.0;
      return (p.is_signed && (h & 1u)) ? -v : v;
    }
    case mdnAvg:
      return p.nranks * Spread(p, h);
    default:
      return Spread(p, h);
  }
}

double ReducedValue(const DataPattern& p, size_t index) {
  double acc = InputValue(p, 0, index);
  for (int r = 1; r < p.nranks; ++r) {
    const double v = InputValue(p, r, index);
    switch (p.op) {
      case mdnSum:
      case mdnAvg:
        acc += v;
        break;
      case mdnProd:
        acc *= v;
        break;
      case mdnMax:
        acc = std::max(acc, v);
        break;
      case mdnMin:
        acc = std::min(acc, v);
        break;
      default:
        break;
    }
  }
  // The sum is a multiple of nranks, so the quotient is exact for every type.
  return p.op == mdnAvg ? acc / p.nranks : acc;
}

void FillInput(Collective coll, const DataPattern& p, const Geometry& g,
               int rank, void* sendbuf) {
  const size_t first =
      coll == Collective::kAllGather ? rank * g.param_count : 0;
  for (size_t k = 0; k < g.send_count; ++k) {
    StoreElement(sendbuf, k, p.type, InputValue(p, rank, first + k));
  }
}

size_t FillExpected(Collective coll, const DataPattern& p, const Geometry& g,
                    int rank, int root, void* expected) {
  switch (coll) {
    case Collective::kAllReduce:
      for (size_t k = 0; k < g.recv_count; ++k) {
        StoreElement(expected, k, p.type, ReducedValue(p, k));
      }
      return g.recv_count;
    case Collective::kReduce:
      if (rank != root) return 0;
      for (size_t k = 0; k < g.recv_count; ++k) {
        StoreElement(expected, k, p.type, ReducedValue(p, k));
      }
      return g.recv_count;
    case Collective::kBroadcast:
      for (size_t k = 0; k < g.recv_count; ++k) {
        StoreElement(expected, k, p.type, InputValue(p, root, k));
      }
      return g.recv_count;
    case Collective::kAllGather:
      for (size_t j = 0; j < g.recv_count; ++j) {
        const int owner = static_cast<int>(j / g.param_count);
        StoreElement(expected, j, p.type, InputValue(p, owner, j));
      }
      return g.recv_count;
    case Collective::kReduceScatter: {
      const size_t first = rank * g.param_count;
      for (size_t k = 0; k < g.recv_count; ++k) {
        StoreElement(expected, k, p.type, ReducedValue(p, first + k));
      }
      return g.recv_count;
    }
  }
  return 0;
}

void FillPoison(void* buf, size_t bytes) { std::memset(buf, 0xA5, bytes); }

size_t CountWrong(const DataPattern& p, const void* got, const void* expected,
                  size_t count) {
  size_t wrong = 0;
  for (size_t k = 0; k < count; ++k) {
    const double g = LoadElement(got, k, p.type);
    const double e = LoadElement(expected, k, p.type);
    // Written so that a NaN counts as wrong.
    if (!(std::fabs(g - e) <= p.tolerance)) ++wrong;
  }
  return wrong;
}

uint64_t HashBytes(const void* buf, size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(buf);
  uint64_t h = 0xcbf29ce484222325ull ^ bytes;
  size_t i = 0;
  for (; i + 8 <= bytes; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 32;
  }
  for (; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace meridian::perf
