/* libmeridian.so is built from the static runtime library; CMake needs one
 * source of its own for the target.  Compiling the public header as C99 here
 * also proves, on every build, that it is valid C. */
#include "meridian.h"
