// The tables of `dory deploy` and `dory run`: per layer its tiling, L1 and L2 use and modeled cycles, and (after a
// run on the host platform) the measured host time and the check against the reference.
#pragma once

#include <string>

#include "codegen/deployment.h"
#include "codegen/host_run.h"
#include "codegen/schedule_check.h"

namespace dory {

// The deployment's header (target, L1, L2 memory plan: constants, activation peak vs lower bound) and the
// per-layer table. `run` adds the host columns (nullptr: deployment only).
std::string render_deployment(const Deployment& dep, const ScheduleCheckStats& check, const HostRunResult* run,
                              bool markdown = false);

// The modeled DMA/compute timeline of the deployment (tiler/layer_model.h layer_timeline), layers one after the
// other, as CSV: layer,name,tile,kind,buffer,bytes,start_cycles,end_cycles (cycles from the start of the network).
// max_tiles_per_layer < 0: every tile.
std::string deployment_timeline_csv(const Deployment& dep, int64_t max_tiles_per_layer = -1);

}  // namespace dory
