// The constants in L2: THE layout of the weights, biases and requantization records of a deployment. The code
// generator writes its bytes there (codegen/deployment.h: Deployment::constants, the descriptors' offsets) and
// the reports size L2 with it (the memory plan's reserved_bytes, memplan.h), so the two cannot disagree.
//
// [0, bytes), in the order of the plans given (layer order), per planned layer the parts that have bytes:
//   weights  LayerGeometry::weight_bytes()             int8, [C_out][kh][kw][C_in] (depthwise [C][kh][kw])
//   bias     bias_bytes_per_cout x c_out                int32 [C_out]
//   requant  requant_bytes_per_cout x c_out             per-channel records [C_out][k] (the layout the tiler's
//                                                       transfers slice, tiler/transfers.h)
// each starting at the next multiple of 8 bytes (zero padding between parts); `bytes` is rounded up to 8, so the
// activations that follow (memplan.h) start aligned, and is at least 8 (a network without constants gets 8 zero
// bytes: the generated code holds the constants in one C object, which cannot be empty). A part without bytes has
// offset -1.
#pragma once

#include <cstdint>
#include <vector>

#include "tiler/plan.h"

namespace dory {

struct ConstantPart {
  int64_t offset = -1;  // from the start of L2; -1 when the part has no bytes
  int64_t bytes = 0;
};

struct LayerConstants {
  ConstantPart weights, bias, requant;
};

struct ConstantLayout {
  std::vector<LayerConstants> layers;  // one per plan, in the order given
  int64_t bytes = 0;                   // the constants' share of L2 (a multiple of 8)
};

ConstantLayout layout_constants(const std::vector<TilePlan>& plans);

}  // namespace dory
