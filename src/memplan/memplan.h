// MemoryPlan: the static L2 memory plan. Every activation tensor of the network (graph inputs and layer outputs;
// weights and other constants live inside their layers and are sized by the caller) gets a fixed byte offset in
// L2, so the generated code needs no allocator and the L2 budget is known before anything runs.
//
// Schedule. Step i is the execution of Graph::layers[i] (a topological order); the plan holds for that order
// only. Step intervals are inclusive: [first, last].
//
// Storage classes: the tensors that share one piece of storage.
//   - A View's output aliases its input (storage_owner, ir/graph.h).
//   - A Concat moves nothing: each of its inputs is produced directly into its channel slice of the concat output
//     (LayerGeometry::in/out_pixel_channels and channel offsets, tiler/geometry.h), so it shares the concat
//     output's storage. By the rule of ir/graph.h (concat_slice), which the tiler's geometry follows too, a
//     feature map lives in the slice of its FIRST Concat reader (in layer order) only, and (the planner's
//     restriction) only a tensor something writes into the slice: a layer's output (a kernel's or, for a concat
//     of concats, a Concat's) or a graph input (the host copies it densely to its storage's offset: right only
//     when that is where its slice is; see check_concat_storage).
//     Geometry has no writer for a View's output in a slice (its source's producer writes densely) nor for a
//     tensor in the slice of a second Concat: such slices are filled by nothing in dory today; the plan keeps
//     those tensors out of the concat's storage, so it stays safe whatever the code generator does about them.
//     check_concat_storage (below) rejects every graph whose Concats the generated code would fill wrongly.
//   - Both relations are applied transitively (union): a view of a concat of concats is one class.
// Every tensor is mapped onto at most one other, so a class is a tree; its root is the owner (the outermost
// concat output, or the source of a view chain), and the class's size is the owner's bytes (elements x
// dtype bytes), which holds every member. A class's lifetime is the union of its members' lifetimes: from
// the first step that writes a member (step 0 when it holds a graph input: the host writes inputs before step 0)
// to the last step that reads a member (the last step when it holds a graph output: the host reads outputs
// after it; tensor_lifetimes in ir/graph.h says -1 and layers.size() instead); a member nobody reads is live at
// its producer's step. A layer's inputs and output are live at its step together (kernels never work in place),
// so an output never reuses the bytes of its own inputs, and a residual branch keeps its bytes until its Add has
// read it.
//
// Placement (heuristics; optimal placement is NP-hard in general). Every class reserves its size rounded up to
// the alignment. lower_bound_bytes = max over steps of the live classes' aligned sizes: no placement can need
// less, so activation_bytes >= lower_bound_bytes, and equality means the placement is optimal. plan_memory tries
// the strategies below in this fixed order and keeps the first with the smallest peak (stopping at the first
// that reaches the lower bound); MemoryPlan::strategy names it. A strategy is an order and a fit rule:
//   orders  size       decreasing size (ties: earlier first step, then lower owner id), as TensorFlow Lite
//                      Micro's GreedyMemoryPlanner
//           first-use  by first step, then last step, then owner ("chain" order)
//           last-use   by decreasing last step, then first step, then owner (roughly first-use backwards)
//           area       decreasing aligned size x steps live (ties as size)
//           breadth    the steps by decreasing live bytes (ties: earlier), at each its classes not yet ordered by
//                      size (TFLite's greedy-by-breadth)
//   fits    first-fit  the lowest aligned offset where the class overlaps no placed class live at a common step
//           best-fit   the smallest gap between such classes that holds it (ties: the lowest), else first fit
//           two-ends   first fit, or, when the conflicting class placed last lies mostly in the lower half of
//                      [0, lower bound), the highest offset that ends at or below the lower bound (first fit when
//                      none does)
// Names are "order/fit", tried as size/*, first-use/*, last-use/*, area/*, breadth/* with the fits in the order
// above (memory_plan_strategies()); size/first-fit is the previous planner, so no plan is worse than it.
// Guarantee: on a chain (each class live with the previous and the next one only, as in a network without
// branches) first-use/two-ends meets the lower bound: the classes alternate between offset 0 and the top of
// [0, lower bound), and two consecutive ones fit by the definition of the bound. Measured (alignment 8): the
// Fashion-MNIST example, MobileNetV1 0.25/64, MobileNetV2 0.35/64, ResNet-8 and the CIFAR-10 CNN all at the
// lower bound (greedy by size alone: +33% and +16.7% on the first two). Cost: O(classes^2) per strategy, under
// a millisecond for 100 layers.
//
// L2 layout, absolute byte offsets, half-open:
//   [0, reserved_bytes)                                  constants (weights, biases, requantization parameters)
//   [activation_start, activation_start + activation_bytes)   activations; activation_start = align_up(reserved)
//   total_bytes = activation_start + activation_bytes    (= activation_start when there are no activations)
// A tensor's offset is the first byte of its class's storage; a Concat input's elements are interleaved in it
// at the channel slice LayerGeometry gives (pixel stride = the concat's channels), not contiguous at that offset.
//
// Checked: plan_memory verifies every plan with check_memory_plan before returning it (a failure is an internal
// error, DORY_CHECK). A plan with total_bytes above the capacity is a Diagnostic "l2-overflow" with severity
// Infeasible (exit code 2), see plan_memory and docs/errors.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "util/diagnostic.h"

namespace dory {

// A buffer that is no tensor of the graph but shares the level with them (an L3 layer's L2 staging, memplan/
// l3_memplan.h): its bytes and the steps it is live (inclusive). It is placed like a storage class.
struct ExtraBuffer {
  std::string name;  // for reports and diagnostics
  int64_t bytes = 0;
  Lifetime life;
};

struct MemoryPlanOptions {
  int64_t l2_capacity_bytes = 0;  // the whole L2 available to the network; 0 = unlimited (no overflow check)
  int64_t reserved_bytes = 0;     // constants, at [0, reserved_bytes)
  int64_t alignment = 8;          // of every activation offset and size, in bytes (>= 1, any value)
  std::string strategy = "";      // "" = try every placement strategy; else only this one (a name from
                                  // memory_plan_strategies(), e.g. "size/first-fit", else an internal error);
                                  // for tests and comparisons
  // Two levels (memplan/l3_memplan.h): per TensorId, 1 when the tensor's storage is in the other level (all
  // members of a storage class alike): it gets no class here. Empty: every tensor is placed here.
  std::vector<char> excluded;
  std::vector<ExtraBuffer> extras;  // placed with the classes (each a class of its own, owner -1)
};

struct StorageClass {
  TensorId owner = -1;            // the tensor whose storage this is (-1 for an extra buffer)
  int extra = -1;                 // for an extra buffer: its index in MemoryPlan::extras (no members)
  std::vector<TensorId> members;  // every tensor stored here, ascending ids (owner included)
  int64_t bytes = 0;              // the owner's bytes
  int64_t aligned_bytes = 0;      // bytes rounded up to the alignment: what the class reserves
  int64_t offset = -1;            // absolute L2 byte offset (a multiple of the alignment)
  Lifetime life;                  // [first, last] steps, inclusive
  int64_t end() const { return offset + aligned_bytes; }
};

struct MemoryPlan {
  int64_t alignment = 8;
  int64_t reserved_bytes = 0;         // constants at [0, reserved_bytes)
  int64_t activation_start = 0;       // align_up(reserved_bytes)
  int64_t activation_bytes = 0;       // the arena: max over classes of end() - activation_start (the peak)
  int64_t lower_bound_bytes = 0;      // max over steps of live_bytes_per_step: what any placement needs
  int64_t total_bytes = 0;            // activation_start + activation_bytes
  int64_t l2_capacity_bytes = 0;      // as given (0 = unlimited)
  int num_steps = 0;                  // max(1, number of layers)
  std::string strategy;               // the placement strategy that won, e.g. "first-use/two-ends" (see above)

  std::vector<StorageClass> classes;         // ordered by first step, then owner id
  std::vector<int> tensor_class;             // per TensorId: index into classes, -1 = no storage (no layer
                                             // reads or writes it and it is no graph input or output)
  std::vector<int64_t> tensor_offset;        // per TensorId: absolute offset of its storage, -1 = none
  std::vector<int64_t> live_bytes_per_step;  // per step: sum of the aligned sizes of the classes live then
  std::vector<char> excluded;                // as given in the options (per TensorId, or empty)
  std::vector<ExtraBuffer> extras;           // as given
  std::vector<int64_t> extra_offset;         // per extra buffer: its absolute offset

  // The class storing `t`, or nullptr for a tensor without storage (in this level).
  const StorageClass* class_of(TensorId t) const;
  bool is_excluded(TensorId t) const {
    return t >= 0 && static_cast<size_t>(t) < excluded.size() && excluded[static_cast<size_t>(t)];
  }
};

// Plans the graph's activations (layers in topological order, e.g. after check_graph). Fails with "l2-overflow"
// (severity Infeasible) when l2_capacity_bytes > 0 and total_bytes exceeds it. The location names the layer at
// the first step where activation_start plus the bytes live at that step (the lower bound) exceed the capacity;
// when even that fits at every step and only the placement does not, the layer that writes the first class (by
// step) ending beyond the capacity ("graph input 'x'" if that class holds an input); "graph" when the constants
// alone exceed the capacity. Plan with capacity 0 to get the plan that does not fit (for a report).
// Options must be sane (alignment >= 1, sizes >= 0; callers validate user input): violations are internal errors.
Expected<MemoryPlan> plan_memory(const Graph& g, const MemoryPlanOptions& opt = {});

// The placement strategies in the order plan_memory tries them ("size/first-fit", ...).
std::vector<std::string> memory_plan_strategies();

// Independent check of a plan against its graph (code "memplan-invalid" naming the tensors involved, severity
// Internal, exit code 3: a plan of plan_memory that fails it is a bug in dory): one class per used tensor not
// excluded (none for an excluded one), one class per extra buffer with its bytes and lifetime, and every
// member at its class's offset; the aliases are ones the graph allows (Views and Concat inputs); each tensor's own
// lifetime (producer or step 0 for inputs, to last reader or the last step for outputs) inside its class's; no two
// classes live at a common step overlap in address; every class aligned and inside [activation_start, total_bytes);
// the layout, the lower bound and live_bytes_per_step consistent.
Status check_memory_plan(const Graph& g, const MemoryPlan& plan);

// check_concat_storage: the Concats the generated code can honor. Why: dory moves no data for a Concat; the
// layer that computes each input writes it straight into its channel slice of the concat output (the storage
// classes above, LayerGeometry's channel offsets and pixel strides), and every reader of the input reads it from
// that slice. That is right only when exactly one writer puts the values where the readers read them, with the
// slice's element type. The planner and the tiler model the cases below without failing (the memory plan stays
// sound), but the network would compute wrong values, so the deployment must reject them. An error
// "deploy-unsupported-concat", location "layer '<concat>'", naming the input and the reason, with a hint, for
// the first of these (in layer order, then input order):
//   - the same tensor twice in one Concat, or in two Concats: its producer writes it once, into the slice of its
//     first occurrence (in layer order); the other slice is never written (no layer copies);
//   - the output of a View (Reshape, Flatten): a view moves no data and its source is written densely;
//   - an input whose element size differs from the concat output's: its producer writes its own type;
//   - when its slice is not where a dense copy at its storage's offset would be (the slice starts at a channel
//     other than 0, or at channel 0 of a wider map of more than one pixel), a graph input (the host copies inputs
//     into L2 densely), a graph output (the host copies outputs out densely), or a tensor a View or a
//     FullyConnected reads (they read their input densely).
// A graph without Concats always passes. tests/unit/memplan_test.cpp simulates the generated code's reads and
// writes byte by byte (the deployment's addresses) on random graphs: the check fails exactly when some read would
// find a wrong value.
Status check_concat_storage(const Graph& g);

// The steps during which `t` itself must hold its value (inclusive; see "Storage classes" above: from its
// producer's step, step 0 for a graph input, to its last reader's, the last step for a graph output). Its class
// lives at least that long. A text summary of a plan is report/memory_plan_report.h.
Lifetime tensor_own_steps(const Graph& g, TensorId t);

}  // namespace dory
