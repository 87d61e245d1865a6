/* The benchmark mode (placeholder until the table is written). */
#include "cases.h"
int bench_mode(uint32_t family_mask) {
  (void)family_mask;
  return 0;
}
