// The static schedule checker: proves, before any code is emitted, that the double-buffered schedule of every layer
// (runtime/include/dory/layer.h) is safe and complete for the descriptor the application will run.
//
// How. check_layer_schedule runs THE schedule, dory_layer_schedule of runtime/executor/schedule.c (the same C file
// the generated applications link), with recording ops at fake L1/L2 bases: once as core 0 (every DMA start and
// wait, every compute, every barrier, in program order) and once as core 1. It replays the event stream against
// a model of the cluster: the cores' computes between two barriers run concurrently with each other and with
// every DMA job in flight during that interval (an "epoch"); a job is in flight from its start to its wait.
// Nothing is executed and no memory is touched; the cost is O(transfers x buffers), milliseconds per network.
//
// What is proven (every violation is the Diagnostic "schedule-invalid", severity Internal, exit code 3: it means a
// bug in dory or a corrupted descriptor; location "layer '<name>'" or "layer '<name>' tile <i>", the message names
// the buffer role, copy, job and tile involved and the rule broken):
//   descriptor   shapes, tile sizes, strides and copies are in range, so the C functions cannot overflow; the
//                kind, shapes, window, padding, element sizes, pixel strides and per-channel constant sizes are
//                the plan's geometry (tile sizes and L2 offsets are judged by what they produce, below).
//   (a) L1       every buffer copy lies in [0, l1_bytes) at a multiple of the target's L1 alignment; no two
//                copies of any buffers overlap (a layout needing more than l1_bytes is reported with both
//                sizes); every buffer of the plan's layout is present, at least as large as the plan's.
//   (b) DMA      every transfer: its role (inputs, weights, bias, requant) is loaded and only the output is stored;
//                its buffer is present and its copy exists (a single-copy buffer's copy 1 only as the alias of
//                copy 0 that deploy writes); the dory_dma_desc is the transfer (direction, counts, the L1 side
//                dense at the copy's first byte, the L2 side at the transfer's offset and strides), counts >= 1;
//                the L1 side (row_bytes x rows x planes) fits the copy; every byte of the L2 side lies inside its
//                region: the storage of the input operand's memory-plan class, the layer's weights / bias /
//                requant slice (c_out x per-channel bytes, from the geometry), the storage of the output's class;
//                a store's destination rows do not overlap; at most DORY_DMA_MAX_OUTSTANDING jobs are in flight
//                on the (one) L1<->L2 engine; and the transfer is exactly the one tiler/transfers.h's
//                tile_loads / tile_stores give for its tile (what the cost model priced is what runs), each
//                issued once, and every load of a tile issued before that tile's compute.
//   (c) hazards  every job is waited for exactly once, none is in flight at the end; a compute reads an input /
//                weights / bias / requant copy only if the last load into it carries the data of the tile that
//                needs it (the latest tile <= this one whose tile_loads contain that role: no stale copy) and
//                was waited for before a barrier preceding the compute; it reads the partial sums (tile not
//                first) only after the compute of the previous tile, a barrier earlier; no load in flight during
//                a compute's epoch targets a copy the compute reads or writes, no store in flight then reads a
//                copy it writes; no two jobs in flight on one copy unless both are stores; a store reads an
//                output copy whose last compute was the store's own tile, a barrier before the store started.
//                The model is conservative: a compute reads its inputs (when its input box is not empty),
//                weights, bias and requant records and writes its output copy, the partial sums and the im2col
//                scratch, whatever the kernel contract (dory/kernels.h) says it needs at that tile.
//   (d) coverage every tile is computed once, in order, with the extent (output box, input box, padding,
//                first/last) of the C++ tile_extent(plan.geometry, plan.shape, tile_index(...)) (guards against
//                drift between schedule.c and tiler/tile.h, and against a descriptor whose tiling is not the
//                plan's: checked for every tile before the schedule runs); each compute's boxes fit their copies;
//                the stores are boxes of the layer's output map (its channel slice when pixel_stride > c_out)
//                that together write every output element exactly once.
//   cores        core 1 runs the same computes on the same copies between the same barriers as core 0 and
//                starts no DMA (the hazard model assumes every core computes what core 0 does).
// Not proven here: the kernels' arithmetic (tests/kernels), the contents of L2 (memplan's check_memory_plan
// proves the activations' placement; deploy lays out the constants), timing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "codegen/deployment.h"
#include "dory/l3.h"
#include "dory/layer.h"
#include "util/diagnostic.h"

namespace dory {

struct ScheduleCheckOptions {
  int32_t skip_wait = -1;  // fault injection: passed to dory_schedule_ops.skip_wait for the checked layer(s)
  int32_t skip_l3_wait = -1;  // fault injection: the two-level schedule's wait to drop (as dory_l3_inject_skip_wait)
  // fault injection, the two-level schedule's sub-layer starts: the start of this L3 tile reported as "kept" (the
  // cores reuse the previous sub-layer's descriptor, only the L2 offsets move), as a schedule bug would
  int32_t force_kept_l3_tile = -1;
  // fault injection: the descriptor started at this L3 tile (a kept one in the tests) with its tile_c_out one less,
  // a field beyond the L2 offsets that a kept descriptor must share with its template
  int32_t alter_l3_sub_tile = -1;
  int64_t l1_bytes = 0;    // L1 available; 0 = dep.l1_bytes
};

struct ScheduleCheckStats {
  int64_t layers = 0, transfers = 0, waits = 0, computes = 0, bytes = 0;  // bytes: moved by all transfers
};

// Checks one layer's descriptor (possibly different from dep.layers[index].descriptor(): the tests corrupt it)
// against the deployment's plan, memory plan and constants. Stats are added to (not reset).
Status check_layer_schedule(const Deployment& dep, size_t index, const dory_layer& desc,
                            const ScheduleCheckOptions& opt = {}, ScheduleCheckStats* stats = nullptr);

// The two-level schedule of an L3 layer (dory/l3.h; desc possibly corrupted by a test): runs dory_l3_schedule with
// recording ops, with and without the previous layer's prefetch, and proves: the descriptor is the L3 plan (every
// field, every L3 tile's extent); every L3 transfer is the plan's (tile, role, staging copy, L2 and L3 offsets,
// bytes), issued once, its L2 side inside its staging copy (with the word rounding of an L3 -> L2 transfer) and
// 4-byte aligned, its L3 side inside its tensor's or constants' L3 storage; at most DORY_L3_MAX_OUTSTANDING in
// flight, none twice on the same bytes; every job waited for once; a sub-layer runs only after the loads of its
// tile, reads staging copies holding its own tile's data, waited for, and nothing in flight during it touches the
// L2 bytes it reads or writes; a store reads a band all of whose blocks ran; the L3 tiles partition the output;
// and every sub-layer passes check_layer_schedule's proof on its own plan, with the bases and regions the C++ side
// gives its tile. footprint (optional): the L2 ranges the layer touches.
Status check_l3_layer_schedule(const Deployment& dep, size_t index, const dory_l3_layer& desc,
                               const ScheduleCheckOptions& opt = {}, ScheduleCheckStats* stats = nullptr,
                               std::vector<std::pair<int64_t, int64_t>>* footprint = nullptr);

// Every layer of the deployment (what `dory deploy` runs on every deployment); stops at the first failure. Across
// layers: a layer's prefetch (dory/l3.h) writes nothing the previous layer touches, and no layer touches the check
// buffer.
Status check_schedule(const Deployment& dep, const ScheduleCheckOptions& opt = {}, ScheduleCheckStats* stats = nullptr);

}  // namespace dory
