/* dory/trace.h - the timeline of a run in MODELED cycles: one event per DMA job and per compute phase.
 *
 * The generated executor knows, from the cost model, when each transfer and each kernel call starts and ends in
 * the target's cycles; the platform's own clock (dory_cycles) measures something else (host nanoseconds). The
 * executor records the modeled times here, the application dumps them as CSV, and reports draw the timeline.
 *
 * Storage is the caller's (no allocation): dory_trace_init(buffer, capacity); events beyond the capacity are
 * counted in dory_trace_dropped() and otherwise ignored. Recording is off until dory_trace_init is called with a
 * buffer, and costs one branch when off. Only core 0 records (it is not thread-safe). Portable C99: every
 * platform links runtime/hal/trace.c.
 *
 * Times are half-open intervals [start_cycles, end_cycles) from the start of the network (cycle 0): for a DMA job,
 * from the push of its first command to the arrival of its last byte; for a compute phase, the kernel call.
 */
#ifndef DORY_TRACE_H
#define DORY_TRACE_H

#include <stdint.h>

#include "dory/hal.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DORY_TRACE_LOAD = 0, DORY_TRACE_STORE = 1, DORY_TRACE_COMPUTE = 2 };

typedef struct {
  uint64_t start_cycles; /* modeled, inclusive */
  uint64_t end_cycles;   /* modeled, exclusive */
  int32_t layer;         /* index of the layer in the network */
  int32_t tile;          /* tile index in the layer's loop order */
  uint32_t job;          /* DMA job id (0 for compute) */
  uint32_t bytes;        /* bytes moved (0 for compute) */
  uint8_t kind;          /* DORY_TRACE_LOAD, _STORE, _COMPUTE */
  uint8_t buffer;        /* the executor's buffer role (input, weights, ...), free-form; 0 for compute */
} dory_trace_event;

/* Starts recording into buffer[0 .. capacity) (NULL or 0 turns recording off); clears previous events. */
void dory_trace_init(dory_trace_event *buffer, uint32_t capacity);

/* A DMA job: direction and bytes are taken from the descriptor. */
void dory_trace_dma(const dory_dma_desc *desc, dory_dma_job job, int32_t layer, int32_t tile, uint8_t buffer,
                    uint64_t start_cycles, uint64_t end_cycles);

/* A compute phase (one kernel call on all cores). */
void dory_trace_compute(int32_t layer, int32_t tile, uint64_t start_cycles, uint64_t end_cycles);

uint32_t dory_trace_count(void);
uint32_t dory_trace_dropped(void);
const dory_trace_event *dory_trace_event_at(uint32_t i); /* NULL when i >= dory_trace_count() */

/* Writes the CSV header (i < 0) or the CSV line of event i, without a newline, into buf (always terminated).
 * Columns: kind,layer,tile,buffer,job,bytes,start_cycles,end_cycles. Returns the length written (as snprintf),
 * or -1 when i is out of range. */
int dory_trace_format_csv(int32_t i, char *buf, uint32_t size);

#ifdef __cplusplus
}
#endif

#endif /* DORY_TRACE_H */
