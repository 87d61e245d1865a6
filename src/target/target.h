// Target: the description of a chip that dory deploys onto, loaded from validated JSON (targets/*.json).
//
// A new chip needs a new JSON file, not new compiler code: everything the tiler, the cost model, the simulator
// and the code generator need to know about a platform is in this struct. The schema ("dory-target/1"), every
// field's unit and meaning, the validation rules and the provenance of the shipped numbers are in
// docs/targets.md; the field names below are the JSON keys.
//
// Units: sizes in bytes, times in cycles of the cluster clock (clock_hz), rates per cycle, energy in picojoules.
//
// Validation (all in parse_target; a Target that exists is valid): unknown fields and duplicate keys are errors
// (typos are never ignored), required fields must be present with the right JSON type, values must be in range,
// and the whole must be consistent (reserved_bytes < size_bytes, L1 no larger than L2 no larger than L3, DMA
// engines only between memories that exist, an L1<->L2 engine, every kernel family present, ...). Every error is
// a Diagnostic whose location is "<file>: <field path>", e.g. "targets/gap8.json: memories.L1.size_bytes", and
// whose message gives the offending value and the rule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "target/kernel_registry.h"
#include "util/diagnostic.h"

namespace dory {

inline constexpr const char* kTargetSchema = "dory-target/2";

// Memory levels, innermost first. L1 and L2 always exist; L3 is optional.
enum class MemLevel { L1, L2, L3 };
const char* mem_level_name(MemLevel level);  // "L1", "L2", "L3"

struct MemorySpec {
  int64_t size_bytes = 0;       // physical capacity (> 0)
  int64_t reserved_bytes = 0;   // not available to dory's buffers: code, stacks, runtime data (0 <= r < size)
  int64_t access_cycles = 1;    // latency of one core load from this level (>= 1)
  int64_t alignment_bytes = 4;  // every buffer dory places here starts at a multiple of this (a power of two)
  // L2 only, optional: the runtime platform (runtime/registry.json) whose program image this memory holds. Then
  // reserved_bytes is only what lies outside the image (a boot area), and dory accounts for the image itself byte by
  // byte (codegen/l2_image.h): code, data, stacks, checks, constants, activations. Empty: reserved_bytes covers the
  // program.
  std::string program_image;

  int64_t usable_bytes() const { return size_bytes - reserved_bytes; }
  bool operator==(const MemorySpec&) const = default;
};

// One DMA engine. It connects two memory levels and can copy in both directions.
//
// Cost of one transfer of `rows` rows of `row_bytes` bytes each (a 1-D transfer is one row), n = rows*row_bytes:
//   the issuing core spends issue_cycles to program it;
//   the engine is busy for rows*row_cycles + n / bandwidth (bandwidth_bytes_per_cycle in the from->to direction,
//   reverse_bandwidth_bytes_per_cycle in the to->from direction);
//   the data has fully arrived setup_cycles after that busy time would start on an idle engine (setup_cycles is
//   a latency: it may overlap with the previous queued transfer's data phase).
struct DmaEngine {
  std::string name;
  MemLevel from = MemLevel::L2;
  MemLevel to = MemLevel::L1;
  double bandwidth_bytes_per_cycle = 0;          // from -> to (> 0)
  double reverse_bandwidth_bytes_per_cycle = 0;  // to -> from (> 0; defaults to bandwidth_bytes_per_cycle)
  double setup_cycles = 0;                       // fixed latency per transfer (>= 0)
  double row_cycles = 0;                         // extra engine cycles per row of a multi-row transfer (>= 0)
  double issue_cycles = 0;                       // core cycles to push one command (>= 0)
  double transfer_cycles = 0;  // core cycles of software per transfer before its first command: the runtime
                               // building the job (extents, descriptor, validation) (>= 0; default 0)
  int64_t max_outstanding = 1;  // transfers in flight (issued, not yet waited for) before issuing blocks (>= 1)
  int64_t max_dims = 1;         // dimensions of the strided access pattern: 1 contiguous, 2 rows, 3 planes
  int64_t max_row_bytes = 1;    // bytes in one row (one contiguous burst); a 1-D transfer is one row (>= 1)
  int64_t max_rows = 1;         // rows in one command (>= 1; exactly 1 when max_dims == 1)
  int64_t max_transfer_bytes = 0;  // total bytes in one command (default: max_row_bytes * max_rows)
  int64_t max_stride_bytes = 0;    // largest row stride (start to start); default: no limit (INT64_MAX)
  // The one side of a transfer that may be strided; the other side is contiguous. nullopt: both sides may be.
  std::optional<MemLevel> strided_memory;

  bool connects(MemLevel a, MemLevel b) const { return (from == a && to == b) || (from == b && to == a); }
  // Bandwidth of a copy from `src` to `dst` (which this engine must connect).
  double bandwidth(MemLevel src, MemLevel dst) const;
  bool operator==(const DmaEngine&) const = default;
};

// How a kernel call shares its tile's work among the cores: by output rows or by output channels. A dimension
// of extent n gives each core ceil(n / cores) (the slowest core sets the time; uneven splits cost). Auto is rows,
// except for a call of fewer rows than cores whose channels, in chunks of roundup(ceil(c / cores), 4), give the
// busiest core less work: then channels in those chunks (the runtime's dory_core_work, DORY_SPLIT_AUTO).
enum class WorkSplit { Rows, Channels, Auto };
const char* work_split_name(WorkSplit s);  // "rows", "channels", "auto"

// The split a call of h output rows and c output channels runs on `cores` cores, and its chunk: rows or channels
// each core takes (ceil(n / cores), or Auto's channel chunk). Never returns Auto.
struct CallSplit {
  WorkSplit split = WorkSplit::Rows;
  int64_t chunk = 1;
};
CallSplit call_split(WorkSplit s, int64_t cores, int64_t h, int64_t c);

// Kernel families. Conv, Pointwise, Depthwise and Fc are MAC kernels (MacKernelParams); Pool and Add are
// element-wise kernels (ElementwiseKernelParams). Every target defines all six.
enum class KernelFamily { Conv, Pointwise, Depthwise, Fc, Pool, Add };
inline constexpr KernelFamily kAllKernelFamilies[] = {KernelFamily::Conv,      KernelFamily::Pointwise,
                                                      KernelFamily::Depthwise, KernelFamily::Fc,
                                                      KernelFamily::Pool,      KernelFamily::Add};
const char* kernel_family_name(KernelFamily f);  // the JSON key: "conv", "pointwise", ...
bool is_mac_family(KernelFamily f);
// The cost family of a registry op (maxpool and avgpool are "pool"; add and requantize are "add").
KernelFamily kernel_op_family(KernelOp op);

// Cost parameters of a MAC kernel (per core; see docs/targets.md "Kernel cost parameters" for the exact model).
struct MacKernelParams {
  double macs_per_cycle = 1;      // steady-state MACs per cycle per core inside full blocks (> 0)
  int64_t channel_block = 1;      // output channels computed together by the inner kernel (the registry's)
  int64_t pixel_block = 1;        // output pixels computed together by the inner kernel (the registry's)
  double call_cycles = 0;         // fixed cost of one kernel call on one tile: fork/join, setup (>= 0)
  double row_cycles = 0;          // loop overhead per output row (rows split) or per channel (channels split)
  double im2col_cycles_per_byte = 0;  // building the im2col buffer, per byte built (>= 0; 0: no im2col)
  double pixel_cycles = 0;        // per output pixel of the busiest core: window setup, im2col pointers (>= 0)
  double channel_cycles = 0;      // per output channel of the busiest core per call: its constants' folding,
                                  // weight pointers (>= 0)
  double output_cycles = 0;       // per output value of the busiest core: requantization, store (>= 0)
  double output_cycles_wide = 0;  // the same when the layer's requantization is 64-bit (Requant::wide) (>= 0)
  double output_cycles_partial = 0;  // per output of a call on one of several input-channel tiles: the int32
                                     // partial sums' load, add, store (and the last tile's requantization) (>= 0)
  WorkSplit split = WorkSplit::Rows;
  bool operator==(const MacKernelParams&) const = default;
};

// Cost parameters of an element-wise kernel (pool: one element = one input value of one window; add: one
// element = one output value).
struct ElementwiseKernelParams {
  double elements_per_cycle = 1;  // per core (> 0)
  double call_cycles = 0;         // fixed cost of one kernel call on one tile (>= 0)
  double row_cycles = 0;          // loop overhead per output row (rows split) or per channel (channels split)
  double output_cycles = 0;       // per output value of the busiest core: a pool's window setup, division and
                                  // store beside its per-element work (>= 0; default 0)
  WorkSplit split = WorkSplit::Rows;
  bool operator==(const ElementwiseKernelParams&) const = default;
};

// What the runtime's layer executor costs beside the kernels and the DMA commands (docs/targets.md "Executor"):
// per layer (entering and leaving it: the descriptor, the fork of the cluster) and per tile (the tile's loop
// bookkeeping on the issuing core, the barriers around the kernel call). Counted by the layer model (the
// tiled modes), not by L1-resident or L2-direct execution (one kernel call on data in place). A kernel entry may
// give its own per-tile cost (KernelImpl::executor_tile_cycles): the bookkeeping after a kernel call costs more
// the more of the executor's code the kernel evicted from the instruction cache.
struct ExecutorParams {
  double layer_cycles = 0;  // per tiled layer (>= 0)
  double tile_cycles = 0;   // per tile, unless the layer's kernel says otherwise (>= 0)
  bool operator==(const ExecutorParams&) const = default;
};

// One registry kernel a target uses, with what it costs on this target (docs/targets.md "Kernels").
struct KernelImpl {
  const RegistryKernel* kernel = nullptr;  // the registry entry (never null in a valid Target)
  MacKernelParams mac;                     // MAC families; channel_block and pixel_block are the registry's
  ElementwiseKernelParams elementwise;     // pool and add families
  // The executor's per-tile cost in a layer this kernel computes (JSON "executor_tile_cycles", >= 0); nullopt:
  // Target::executor.tile_cycles. Use Target::executor_tile_cycles.
  std::optional<double> executor_tile_cycles;

  const std::string& name() const { return kernel->name; }
  WorkSplit split() const { return is_mac_family(kernel_op_family(kernel->op)) ? mac.split : elementwise.split; }
  bool operator==(const KernelImpl& o) const {
    return kernel == o.kernel && mac == o.mac && elementwise == o.elementwise &&
           executor_tile_cycles == o.executor_tile_cycles;
  }
};

// Per family, the kernels in order of preference: a layer runs the first that computes its op and takes its
// activation types. Valid targets cover every op of every family for every type (some entry takes "any").
struct KernelParams {
  std::vector<KernelImpl> conv, pointwise, depthwise, fc, pool, add;
  const std::vector<KernelImpl>& family(KernelFamily f) const;
  std::vector<KernelImpl>& family(KernelFamily f);  // e.g. a calibration writing fitted terms
  // The entry of the registry kernel named so (RegistryKernel::name), or nullptr when the target does not use it.
  const KernelImpl* find(const std::string& registry_name) const;
  KernelImpl* find(const std::string& registry_name);
  bool operator==(const KernelParams&) const = default;
};

// What a layer asks of a kernel: its op and the activation type of every input.
struct KernelQuery {
  KernelOp op = KernelOp::Conv;
  std::vector<DType> inputs;
};

// Energy model parameters (picojoules): see docs/targets.md "Energy".
struct EnergyParams {
  double core_active_pj_per_cycle = 0;   // per core, per cycle it executes a kernel at L1 speed
  double cluster_idle_pj_per_cycle = 0;  // per cycle of wall-clock time, whatever the cores do
  double l1_pj_per_byte = 0;             // per byte a DMA transfer writes into or reads out of L1
  double l2_pj_per_byte = 0;             // per byte read from or written to L2 (DMA or core access)
  std::optional<double> l3_pj_per_byte;  // per byte moved to or from L3; present exactly when L3 is

  double pj_per_byte(MemLevel level) const;
  bool operator==(const EnergyParams&) const = default;
};

struct Target {
  std::string origin;               // the file it was loaded from (or the origin given to parse_target)
  std::string name;                 // e.g. "gap8"
  std::string description;
  std::vector<std::string> sources;  // where the numbers come from
  int64_t clock_hz = 0;             // cluster clock; all cycle counts are of this clock
  int64_t cores = 1;                // cores that run dory's kernels
  MemorySpec l1, l2;
  std::optional<MemorySpec> l3;
  std::vector<DmaEngine> dma;
  KernelParams kernels;
  ExecutorParams executor;
  EnergyParams energy;

  bool has(MemLevel level) const { return level != MemLevel::L3 || l3.has_value(); }
  // The level's description; the level must exist (has(level)), else internal error.
  const MemorySpec& memory(MemLevel level) const;
  // size_bytes - reserved_bytes: what dory may place in this level. The level must exist.
  int64_t usable_bytes(MemLevel level) const { return memory(level).usable_bytes(); }
  // The engine connecting a and b (either direction), or nullptr. There is at most one per pair.
  const DmaEngine* dma_between(MemLevel a, MemLevel b) const;
  // The kernel a layer runs: the first of its family's list that computes q.op and takes every input type
  // (validation guarantees one).
  const KernelImpl& kernel_for(const KernelQuery& q) const;
  // The executor's cost per tile of a layer that `kernel` computes: the kernel's own, else executor.tile_cycles.
  double executor_tile_cycles(const KernelImpl& kernel) const {
    return kernel.executor_tile_cycles.value_or(executor.tile_cycles);
  }
  bool operator==(const Target&) const = default;  // compares origin too
};

// Parses and validates a target description. `origin` names the text in diagnostics (usually its path).
// Comments (// and /* */) are allowed in the JSON.
Expected<Target> parse_target(const std::string& json_text, const std::string& origin);

// Reads and parses the file at `path`.
Expected<Target> load_target(const std::string& path);

// A path (contains '/' or ends in ".json") is loaded as is. A bare name like "gap8" is looked up as
// "<dir>/<name>.json" in target_search_dirs(), first match wins; when none has it, the error lists the
// available targets.
Expected<Target> find_target(const std::string& name_or_path);

// Where bare target names are looked up, in order: $DORY_TARGETS_DIR (if set), the source tree's targets/
// (DORY_SOURCE_DIR), and the installed data directory <executable dir>/../share/dory/targets.
std::vector<std::string> target_search_dirs();

// The names (file stems) of the *.json files in target_search_dirs(), sorted, without duplicates.
std::vector<std::string> available_targets();

// Canonical JSON of a target (schema dory-target/1, every field explicit, defaults filled in); parsing it back
// gives an equal Target. For reports and for the header of generated code.
std::string target_to_json(const Target& target);

}  // namespace dory
