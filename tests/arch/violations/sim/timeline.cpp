// A planted violation for the test layering_rejects_upward_include (never compiled): a directory of the library
// that src/layers.cmake does not list.
#include "util/diagnostic.h"
