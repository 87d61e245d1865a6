// A planted violation for the test layering_rejects_upward_include (never compiled): testnets includes ir, a
// layer below it that it does not use.
#pragma once
#include "ir/graph.h"
#include "util/diagnostic.h"
