// A planted violation for the test layering_rejects_upward_include (never compiled): memplan includes a header of
// report, a layer above it. The include of tiler, a layer memplan uses, is allowed.
#include "memplan/memplan.h"
#include "report/text_table.h"
#include "tiler/plan.h"
