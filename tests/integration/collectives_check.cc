// Multi-process correctness check, run under meridian-run at several world
// sizes: every collective x data type x op, odd counts, in and out of place,
// against an exact reference; results byte-identical across ranks; and many
// asynchronous operations in flight at once.  Uses only the public C API.
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "meridian.h"
#include "tests/integration/dtype_values.h"

using namespace meridian::testing;

namespace {

int g_rank = 0, g_world = 1;
int g_failures = 0;
long g_checks = 0;
uint64_t g_digest = 1469598103934665603ull;  // FNV-1a over replicated results

#define CHECK_MDN(call)                                                          \
  do {                                                                           \
    mdnResult_t rc_ = (call);                                                    \
    if (rc_ != mdnSuccess) {                                                     \
      fprintf(stderr, "rank %d: %s failed: %s (%s)\n", g_rank, #call,           \
              mdnGetErrorString(rc_), mdnGetLastError());                        \
      exit(2);                                                                   \
    }                                                                            \
  } while (0)

void Digest(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) g_digest = (g_digest ^ b[i]) * 1099511628211ull;
}

bool Close(mdnDataType_t t, double got, double want) {
  if (!IsFloat(t)) return got == want;
  double tol = (t == mdnFloat16 || t == mdnBfloat16) ? 1e-2 : (t == mdnFloat32 ? 1e-6 : 1e-12);
  return std::fabs(got - want) <= tol * std::fmax(1.0, std::fabs(want));
}

void Expect(bool ok, const char* what, mdnDataType_t t, mdnRedOp_t op, size_t count,
            bool in_place, size_t i, double got, double want) {
  ++g_checks;
  if (ok) return;
  if (++g_failures <= 10) {
    fprintf(stderr, "rank %d: %s dtype %d op %d count %zu %s: element %zu is %g, expected %g\n",
            g_rank, what, t, op, count, in_place ? "in-place" : "out-of-place", i, got, want);
  }
}

void CheckAllReduce(mdnComm_t comm, mdnDataType_t t, mdnRedOp_t op, size_t count, bool in_place) {
  size_t es = mdnDataTypeSize(t);
  std::vector<uint8_t> send(count * es + 1), recv(count * es + 1, 0xAB);
  for (size_t i = 0; i < count; ++i) StoreValue(t, send.data(), i, InputValue(t, op, g_rank, i));
  void* out = in_place ? send.data() : recv.data();
  CHECK_MDN(mdnAllReduce(comm, send.data(), out, count, t, op));
  for (size_t i = 0; i < count; ++i) {
    double got = LoadValue(t, out, i), want = Expected(t, op, g_world, i);
    Expect(Close(t, got, want), "all_reduce", t, op, count, in_place, i, got, want);
  }
  Digest(out, count * es);
}

void CheckReduceScatter(mdnComm_t comm, mdnDataType_t t, mdnRedOp_t op, size_t count, bool in_place) {
  size_t es = mdnDataTypeSize(t);
  std::vector<uint8_t> send(count * g_world * es + 1), recv(count * es + 1);
  for (size_t i = 0; i < count * g_world; ++i) {
    StoreValue(t, send.data(), i, InputValue(t, op, g_rank, i));
  }
  void* out = in_place ? send.data() + g_rank * count * es : recv.data();
  CHECK_MDN(mdnReduceScatter(comm, send.data(), out, count, t, op));
  for (size_t i = 0; i < count; ++i) {
    double got = LoadValue(t, out, i), want = Expected(t, op, g_world, g_rank * count + i);
    Expect(Close(t, got, want), "reduce_scatter", t, op, count, in_place, i, got, want);
  }
}

void CheckReduce(mdnComm_t comm, mdnDataType_t t, mdnRedOp_t op, size_t count, bool in_place, int root) {
  size_t es = mdnDataTypeSize(t);
  std::vector<uint8_t> send(count * es + 1), recv(count * es + 1);
  for (size_t i = 0; i < count; ++i) StoreValue(t, send.data(), i, InputValue(t, op, g_rank, i));
  void* out = in_place ? send.data() : recv.data();
  CHECK_MDN(mdnReduce(comm, send.data(), out, count, t, op, root));
  if (g_rank != root) return;
  for (size_t i = 0; i < count; ++i) {
    double got = LoadValue(t, out, i), want = Expected(t, op, g_world, i);
    Expect(Close(t, got, want), "reduce", t, op, count, in_place, i, got, want);
  }
}

void CheckBroadcast(mdnComm_t comm, mdnDataType_t t, size_t count, bool in_place, int root) {
  size_t es = mdnDataTypeSize(t);
  std::vector<uint8_t> send(count * es + 1), recv(count * es + 1);
  for (size_t i = 0; i < count; ++i) StoreValue(t, send.data(), i, InputValue(t, mdnSum, g_rank, i));
  void* out = in_place ? send.data() : recv.data();
  CHECK_MDN(mdnBroadcast(comm, send.data(), out, count, t, root));
  for (size_t i = 0; i < count; ++i) {
    double got = LoadValue(t, out, i), want = InputValue(t, mdnSum, root, i);
    Expect(got == want, "broadcast", t, mdnSum, count, in_place, i, got, want);
  }
  Digest(out, count * es);
}

void CheckAllGather(mdnComm_t comm, mdnDataType_t t, size_t count, bool in_place) {
  size_t es = mdnDataTypeSize(t);
  std::vector<uint8_t> send(count * es + 1), recv(count * g_world * es + 1);
  void* in = in_place ? recv.data() + g_rank * count * es : send.data();
  for (size_t i = 0; i < count; ++i) StoreValue(t, in, i, InputValue(t, mdnSum, g_rank, i));
  CHECK_MDN(mdnAllGather(comm, in, recv.data(), count, t));
  for (int r = 0; r < g_world; ++r) {
    for (size_t i = 0; i < count; ++i) {
      double got = LoadValue(t, recv.data(), r * count + i), want = InputValue(t, mdnSum, r, i);
      Expect(got == want, "all_gather", t, mdnSum, count, in_place, r * count + i, got, want);
    }
  }
  Digest(recv.data(), count * g_world * es);
}

// Many operations in flight: all issued before any is waited for, then
// completed in a mixed order (test-polling and waiting).
void CheckAsync(mdnComm_t comm) {
  const int kOps = 48;
  const size_t count = 3001;
  std::vector<std::vector<float>> bufs(kOps, std::vector<float>(count));
  std::vector<mdnRequest_t> reqs(kOps, nullptr);
  for (int k = 0; k < kOps; ++k) {
    for (size_t i = 0; i < count; ++i) bufs[k][i] = static_cast<float>(g_rank + k + i % 5);
    CHECK_MDN(mdnAllReduceAsync(comm, bufs[k].data(), bufs[k].data(), count, mdnFloat32, mdnSum,
                                &reqs[k]));
  }
  for (int k = kOps - 1; k >= kOps / 2; --k) CHECK_MDN(mdnWait(&reqs[k]));
  int pending = kOps / 2;
  while (pending > 0) {
    for (int k = 0; k < kOps / 2; ++k) {
      if (reqs[k] == nullptr) continue;
      int done = 0;
      CHECK_MDN(mdnTest(&reqs[k], &done));
      if (done) --pending;
    }
  }
  const double rank_sum = g_world * (g_world - 1) / 2.0;
  for (int k = 0; k < kOps; ++k) {
    for (size_t i = 0; i < count; ++i) {
      double want = rank_sum + g_world * static_cast<double>(k + i % 5);
      Expect(bufs[k][i] == want, "async all_reduce", mdnFloat32, mdnSum, count, true, i,
             bufs[k][i], want);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  mdnComm_t comm = nullptr;
  CHECK_MDN(mdnCommCreate(nullptr, &comm));
  CHECK_MDN(mdnCommRank(comm, &g_rank));
  CHECK_MDN(mdnCommSize(comm, &g_world));
  const bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  std::vector<size_t> counts = {0, 1, 7, 1001};
  if (!quick) counts.push_back(20011);

  for (int t = 0; t < mdnNumDataTypes; ++t) {
    auto dt = static_cast<mdnDataType_t>(t);
    for (size_t count : counts) {
      for (bool in_place : {false, true}) {
        for (int op = 0; op < mdnNumRedOps; ++op) {
          auto o = static_cast<mdnRedOp_t>(op);
          CheckAllReduce(comm, dt, o, count, in_place);
          CheckReduceScatter(comm, dt, o, count, in_place);
          CheckReduce(comm, dt, o, count, in_place, static_cast<int>(count % g_world));
        }
        CheckBroadcast(comm, dt, count, in_place, static_cast<int>((count + 1) % g_world));
        CheckAllGather(comm, dt, count, in_place);
      }
    }
  }
  CheckAsync(comm);
  CHECK_MDN(mdnBarrier(comm));

  // Byte-identical results: every rank's digest of replicated outputs must
  // be the same.
  std::vector<uint64_t> digests(g_world);
  CHECK_MDN(mdnAllGather(comm, &g_digest, digests.data(), 1, mdnUint64));
  for (int r = 0; r < g_world; ++r) {
    if (digests[r] != digests[0]) {
      fprintf(stderr, "rank %d: results differ between rank 0 and rank %d\n", g_rank, r);
      ++g_failures;
    }
  }
  // Everyone learns whether anyone failed, so every rank reports the same.
  int64_t failures = g_failures, total = 0;
  CHECK_MDN(mdnAllReduce(comm, &failures, &total, 1, mdnInt64, mdnSum));
  CHECK_MDN(mdnCommDestroy(comm));
  printf("rank %d/%d: %ld checks, %d local failures, %" PRId64 " total, digest %016" PRIx64 "\n",
         g_rank, g_world, g_checks, g_failures, total, g_digest);
  return total == 0 ? 0 : 1;
}
