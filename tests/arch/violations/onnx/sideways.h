// A planted violation for the test layering_rejects_upward_include (never compiled): onnx includes reference, a
// layer beside it that it does not use. The runtime's headers are no layer and pass.
#pragma once
#include "dory/requant.h"
#include "reference/executor.h"
