/* The C example of README.md, kept identical to it (a test compares them):
 * built as strict C99 and run under meridian-run. */
#include <meridian.h>
#include <stdio.h>

int main(void) {
  mdnComm_t comm;
  /* NULL config: everything from MERIDIAN_* (or torchrun's) variables. */
  if (mdnCommCreate(NULL, &comm) != mdnSuccess) {
    fprintf(stderr, "%s\n", mdnGetLastError());
    return 1;
  }
  int rank;
  mdnCommRank(comm, &rank);
  float grad[1024];
  for (int i = 0; i < 1024; ++i) grad[i] = (float)rank;
  mdnResult_t rc = mdnAllReduce(comm, grad, grad, 1024, mdnFloat32, mdnAvg);
  if (rc != mdnSuccess) fprintf(stderr, "%s\n", mdnCommGetLastError(comm));
  mdnCommDestroy(comm);
  return rc == mdnSuccess ? 0 : 1;
}
