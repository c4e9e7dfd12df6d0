// An invariant that fails is a finding: print what broke and abort, which
// libFuzzer reports as a crash and saves the input for.  assert() would
// vanish under NDEBUG, so the targets use this instead.
#ifndef MERIDIAN_TESTS_FUZZ_FUZZ_CHECK_H_
#define MERIDIAN_TESTS_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                              \
  do {                                                                \
    if (!(cond)) {                                                    \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                  \
      std::abort();                                                   \
    }                                                                 \
  } while (0)

#endif  // MERIDIAN_TESTS_FUZZ_FUZZ_CHECK_H_
