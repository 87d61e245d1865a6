/* The modeled-cycle timeline (dory/trace.h). Portable C99, linked on every platform. */
#include "dory/trace.h"

#include <stdio.h>

static dory_trace_event *g_events;
static uint32_t g_capacity, g_count, g_dropped;

void dory_trace_init(dory_trace_event *buffer, uint32_t capacity) {
  g_events = capacity ? buffer : 0;
  g_capacity = buffer ? capacity : 0;
  g_count = 0;
  g_dropped = 0;
}

static dory_trace_event *next_slot(void) {
  if (!g_events) return 0;
  if (g_count == g_capacity) {
    g_dropped++;
    return 0;
  }
  return &g_events[g_count++];
}

void dory_trace_dma(const dory_dma_desc *desc, dory_dma_job job, int32_t layer, int32_t tile, uint8_t buffer,
                    uint64_t start_cycles, uint64_t end_cycles) {
  dory_trace_event *e = next_slot();
  if (!e) return;
  e->start_cycles = start_cycles;
  e->end_cycles = end_cycles;
  e->layer = layer;
  e->tile = tile;
  e->job = job;
  e->bytes = desc->row_bytes * desc->rows * desc->planes;
  e->kind = desc->dir == DORY_DMA_L2_TO_L1 ? DORY_TRACE_LOAD : DORY_TRACE_STORE;
  e->buffer = buffer;
}

void dory_trace_compute(int32_t layer, int32_t tile, uint64_t start_cycles, uint64_t end_cycles) {
  dory_trace_event *e = next_slot();
  if (!e) return;
  e->start_cycles = start_cycles;
  e->end_cycles = end_cycles;
  e->layer = layer;
  e->tile = tile;
  e->job = 0;
  e->bytes = 0;
  e->kind = DORY_TRACE_COMPUTE;
  e->buffer = 0;
}

uint32_t dory_trace_count(void) { return g_count; }
uint32_t dory_trace_dropped(void) { return g_dropped; }

const dory_trace_event *dory_trace_event_at(uint32_t i) { return i < g_count ? &g_events[i] : 0; }

int dory_trace_format_csv(int32_t i, char *buf, uint32_t size) {
  static const char *const kinds[] = {"load", "store", "compute"};
  const dory_trace_event *e;
  if (i < 0) return snprintf(buf, size, "kind,layer,tile,buffer,job,bytes,start_cycles,end_cycles");
  e = dory_trace_event_at((uint32_t)i);
  if (!e) {
    if (size) buf[0] = 0;
    return -1;
  }
  return snprintf(buf, size, "%s,%ld,%ld,%u,%lu,%lu,%llu,%llu", kinds[e->kind < 3 ? e->kind : 2], (long)e->layer,
                  (long)e->tile, (unsigned)e->buffer, (unsigned long)e->job, (unsigned long)e->bytes,
                  (unsigned long long)e->start_cycles, (unsigned long long)e->end_cycles);
}
