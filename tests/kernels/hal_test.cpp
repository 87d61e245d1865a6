// The host platform of the HAL (runtime/hal/host): what it promises in dory/hal_host.h, tested claim by claim.
//   - DMA copies 1-D, 2-D and 3-D strided boxes exactly, in both directions, touching nothing else;
//   - a transfer leaving its arena (or in the wrong one) aborts before copying, naming the job and the addresses;
//   - a corrupted guard zone is detected at the next wait / task / shutdown, naming the arena and the offset;
//   - the copy really happens later: a kernel reading a buffer whose load was not waited for sees the old bytes;
//   - misuse (DMA from core 1, double wait, unknown job, jobs left in flight, too many in flight) aborts;
//   - cluster_run gives every core its id, and the barrier really synchronizes 8 threads;
//   - the trace records modeled cycles and formats them as CSV.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "dory/hal_host.h"
#include "dory/kernels.h"
#include "dory/trace.h"

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool kTsan = true;
#else
constexpr bool kTsan = false;
#endif
#else
constexpr bool kTsan = false;
#endif

// Initializes the host platform for one test and shuts it down at the end (also when an assertion fails).
struct Host {
  Host(uint32_t l1, uint32_t l2, int cores) { dory_host_init(l1, l2, cores); }
  ~Host() { dory_host_shutdown(); }
  uint8_t* l1() const { return static_cast<uint8_t*>(dory_l1_base()); }
  uint8_t* l2() const { return static_cast<uint8_t*>(dory_l2_base()); }
};

class HostHal : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(HostHal, ArenasHaveTheRequestedSizesAndCoreCount) {
  Host h(65536, 524288, 8);
  EXPECT_EQ(dory_l1_size(), 65536u);
  EXPECT_EQ(dory_l2_size(), 524288u);
  EXPECT_EQ(dory_core_count(), 8);
  EXPECT_EQ(dory_core_id(), 0);
  // Uninitialized memory is a pattern, not zeros.
  EXPECT_EQ(h.l1()[0], 0xA5);
  EXPECT_EQ(h.l2()[524287], 0xA5);
}

TEST_F(HostHal, DmaCopiesStridedBoxesExactlyInBothDirections) {
  constexpr uint32_t kL1 = 1 << 16, kL2 = 1 << 18;
  Host h(kL1, kL2, 2);
  std::mt19937 rng(12345);
  for (int iter = 0; iter < 300; ++iter) {
    auto u = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
    const uint32_t row_bytes = u(1, 64), rows = u(1, 9), planes = u(1, 7);
    const uint32_t dims = u(1, 3);
    const uint32_t r = dims >= 2 ? rows : 1, p = dims == 3 ? planes : 1;
    // strides: >= the dense extent on the destination, anything >= 0 on the source
    const uint32_t src_rs = row_bytes + u(0, 40), src_ps = r * src_rs + u(0, 100);
    const uint32_t dst_rs = row_bytes + u(0, 40), dst_ps = r * dst_rs + u(0, 100);
    const bool load = u(0, 1) == 0;
    uint8_t* l1 = h.l1() + u(0, 1000);
    uint8_t* l2 = h.l2() + u(0, 1000);
    uint8_t* src = load ? l2 : l1;
    uint8_t* dst = load ? l1 : l2;
    const uint32_t src_extent = (p - 1) * src_ps + (r - 1) * src_rs + row_bytes;
    const uint32_t dst_extent = (p - 1) * dst_ps + (r - 1) * dst_rs + row_bytes;
    for (uint32_t i = 0; i < src_extent; ++i) src[i] = static_cast<uint8_t>(rng());
    std::vector<uint8_t> before(dst, dst + dst_extent + 16);
    dory_dma_desc d = dims == 1   ? dory_dma_1d(dst, src, row_bytes, load ? DORY_DMA_L2_TO_L1 : DORY_DMA_L1_TO_L2)
                      : dims == 2 ? dory_dma_2d(dst, dst_rs, src, src_rs, row_bytes, r,
                                                load ? DORY_DMA_L2_TO_L1 : DORY_DMA_L1_TO_L2)
                                  : dory_dma_3d(dst, dst_rs, dst_ps, src, src_rs, src_ps, row_bytes, r, p,
                                                load ? DORY_DMA_L2_TO_L1 : DORY_DMA_L1_TO_L2);
    dory_dma_wait(dory_dma_start(&d));
    std::vector<uint8_t> expect = before;
    for (uint32_t pp = 0; pp < p; ++pp)
      for (uint32_t rr = 0; rr < r; ++rr)
        std::memcpy(&expect[pp * dst_ps + rr * dst_rs], src + pp * src_ps + rr * src_rs, row_bytes);
    ASSERT_EQ(0, std::memcmp(expect.data(), dst, expect.size()))
        << "iteration " << iter << ": " << dims << "-D, " << p << " x " << r << " x " << row_bytes << " B";
  }
}

TEST_F(HostHal, ManyJobsInFlightCompleteAndEachWaitReturnsItsOwn) {
  Host h(4096, 65536, 1);
  dory_host_set_dma_delay_us(200);
  std::vector<dory_dma_job> jobs;
  for (int i = 0; i < 16; ++i) {
    std::memset(h.l2() + i * 256, i + 1, 256);
    dory_dma_desc d = dory_dma_1d(h.l1() + i * 256, h.l2() + i * 256, 256, DORY_DMA_L2_TO_L1);
    jobs.push_back(dory_dma_start(&d));
  }
  for (int i = 15; i >= 0; --i) {  // waiting out of issue order is allowed
    dory_dma_wait(jobs[i]);
    EXPECT_EQ(h.l1()[i * 256 + 255], i + 1);
  }
  EXPECT_EQ(dory_host_get_stats().jobs, 16u);
  EXPECT_EQ(dory_host_get_stats().bytes, 16u * 256u);
}

// ---- arena bounds -------------------------------------------------------------------------------------------

TEST_F(HostHal, DmaPastTheEndOfL1Aborts) {
  EXPECT_DEATH(
      {
        Host h(1024, 4096, 1);
        dory_dma_desc d = dory_dma_1d(h.l1() + 1000, h.l2(), 64, DORY_DMA_L2_TO_L1);
        dory_dma_start(&d);
      },
      "DMA job 1 \\(L2->L1, 1 plane\\(s\\) x 1 row\\(s\\) x 64 B\\): the destination \\[L1\\+1000, L1\\+1064\\) "
      "leaves the L1 arena of 1024 B: its last 40 B are past the end");
}

TEST_F(HostHal, ThreeDimensionalBoxWhoseLastPlaneLeavesL2Aborts) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        // 4 planes of 2 rows of 16 B, planes 1024 B apart: the last row ends at 3*1024 + 32 + 16 = 3120 from src
        dory_dma_desc d = dory_dma_3d(h.l1(), 16, 32, h.l2() + 1000, 32, 1024, 16, 2, 4, DORY_DMA_L2_TO_L1);
        dory_dma_start(&d);
      },
      "DMA job 1 \\(L2->L1, 4 plane\\(s\\) x 2 row\\(s\\) x 16 B\\): the source \\[L2\\+1000, L2\\+4120\\) leaves "
      "the L2 arena of 4096 B");
}

TEST_F(HostHal, DmaStartingInTheGuardBeforeL2Aborts) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_desc d = dory_dma_1d(h.l1(), h.l2() - 8, 16, DORY_DMA_L2_TO_L1);
        dory_dma_start(&d);
      },
      "the source starts at L2-8, 8 B before the L2 arena \\(in its guard zone\\)");
}

TEST_F(HostHal, DmaFromTheWrongArenaAborts) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_desc d = dory_dma_1d(h.l1(), h.l1() + 2048, 16, DORY_DMA_L2_TO_L1);
        dory_dma_start(&d);
      },
      "the source starts at L1\\+2048, in the L1 arena, but a L2->L1 transfer's source must be in L2 \\(wrong "
      "direction\\?\\)");
}

TEST_F(HostHal, DmaFromOutsideEveryArenaAborts) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        static uint8_t outside[64];
        dory_dma_desc d = dory_dma_1d(outside, h.l1(), 16, DORY_DMA_L1_TO_L2);
        dory_dma_start(&d);
      },
      "DMA job 1 \\(L1->L2, .*\\): the destination 0x[0-9a-f]+ is not in the L2 arena");
}

TEST_F(HostHal, EmptyOrSelfOverlappingTransfersAbort) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_desc d = dory_dma_1d(h.l1(), h.l2(), 0, DORY_DMA_L2_TO_L1);
        dory_dma_start(&d);
      },
      "empty transfer");
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_desc d = dory_dma_2d(h.l1(), 8, h.l2(), 16, 16, 4, DORY_DMA_L2_TO_L1);
        dory_dma_start(&d);
      },
      "destination rows overlap \\(row stride 8 < row bytes 16\\)");
}

// ---- guards -------------------------------------------------------------------------------------------------

TEST_F(HostHal, OverwritingPastL1IsDetectedAtTheNextWait) {
  EXPECT_DEATH(
      {
        Host h(1024, 4096, 1);
        h.l1()[1024 + 5] ^= 0xFF;  // 6 bytes past the end
        dory_dma_desc d = dory_dma_1d(h.l1(), h.l2(), 16, DORY_DMA_L2_TO_L1);
        dory_dma_wait(dory_dma_start(&d));
      },
      "at a DMA wait: the guard zone after the L1 arena was overwritten at L1\\+1029 .*something wrote 6 B past "
      "the arena's end \\(1024 B\\)");
}

TEST_F(HostHal, OverwritingBeforeL2IsDetectedAtShutdown) {
  EXPECT_DEATH(
      {
        dory_host_init(1024, 4096, 1);
        static_cast<uint8_t*>(dory_l2_base())[-3] ^= 0x01;
        dory_host_shutdown();
      },
      "at shutdown: the guard zone before the L2 arena was overwritten at L2-3");
}

TEST_F(HostHal, AKernelWritingPastItsArenaIsDetectedWhenTheTaskEnds) {
  EXPECT_DEATH(
      {
        Host h(256, 4096, 8);
        dory_cluster_run(
            [](void*) {
              if (dory_core_id() == 7) static_cast<uint8_t*>(dory_l1_base())[256 + 100] = 0;
            },
            nullptr);
      },
      "after a cluster task: the guard zone after the L1 arena was overwritten at L1\\+356");
}

// ---- start / join: dory_cluster_run in two halves ------------------------------------------------------------

TEST_F(HostHal, StartRunsTheTaskOnEveryCoreAndJoinEndsIt) {
  Host h(1024, 4096, 4);
  static int seen[4];
  for (int& x : seen) x = 0;
  dory_cluster_start([](void*) { seen[dory_core_id()] = 1; }, nullptr);
  dory_cluster_join();
  for (int c = 0; c < 4; ++c) EXPECT_EQ(seen[c], 1) << c;
  dory_cluster_run([](void*) {}, nullptr);  // and the whole again after
}

TEST_F(HostHal, AJoinWithoutAStartAborts) {
  EXPECT_DEATH(
      {
        Host h(1024, 4096, 2);
        dory_cluster_join();
      },
      "dory_cluster_join without a task started \\(dory_cluster_start\\)");
}

TEST_F(HostHal, ASecondStartBeforeTheJoinAborts) {
  EXPECT_DEATH(
      {
        Host h(1024, 4096, 2);
        dory_cluster_start([](void*) {}, nullptr);
        dory_cluster_run([](void*) {}, nullptr);
      },
      "dory_cluster_run while a started task was not joined \\(dory_cluster_join\\)");
}

// ---- asynchrony: a missing wait shows up as stale data --------------------------------------------------------

void run_identity_kernel(dory_requantize_args* a) {
  dory_cluster_run([](void* p) { dory_requantize_any__c(static_cast<const dory_requantize_args*>(p)); }, a);
}

// An identity requantization reading `in` (L1) into `out` (L1), 8 rows x 4 cols x 8 channels of uint8.
dory_requantize_args identity_args(uint8_t* in, uint8_t* out) {
  dory_requantize_args a{};
  a.in = {in, 8, 4, 8, DORY_UINT8};
  a.out = {out, 8, 4, 8, DORY_UINT8};
  a.rq.mul = 1;
  a.rq.add = 0;
  a.rq.wide = 0;
  dory_divisor32_make(1, DORY_ROUND_FLOOR, &a.rq.div.d32);
  a.rq.lo = 0;
  a.rq.hi = 255;
  a.split = DORY_SPLIT_ROWS;
  return a;
}

TEST_F(HostHal, AKernelReadingAnUnwaitedLoadSeesTheOldBytes) {
  Host h(4096, 4096, 8);
  dory_host_set_dma_delay_us(DORY_HOST_DMA_UNTIL_WAIT);
  uint8_t *in = h.l1(), *out = h.l1() + 1024;
  std::memset(in, 0x11, 256);          // what the buffer held before (the previous tile)
  std::memset(h.l2(), 0x22, 256);      // the new tile in L2
  dory_dma_desc d = dory_dma_1d(in, h.l2(), 256, DORY_DMA_L2_TO_L1);
  dory_dma_job job = dory_dma_start(&d);
  dory_requantize_args a = identity_args(in, out);
  run_identity_kernel(&a);  // the executor "forgot" dory_dma_wait(job)
  for (int i = 0; i < 256; ++i) ASSERT_EQ(out[i], 0x11) << "byte " << i << " was already loaded";
  dory_dma_wait(job);
  run_identity_kernel(&a);
  for (int i = 0; i < 256; ++i) ASSERT_EQ(out[i], 0x22) << "byte " << i;
}

TEST_F(HostHal, WithACompletionDelayTheCopyHappensLaterButBeforeTheWaitReturns) {
  if (kTsan) GTEST_SKIP() << "reading a buffer while the DMA engine may write it is the race this test shows";
  Host h(4096, 4096, 1);
  dory_host_set_dma_delay_us(200000);  // 0.2 s
  std::memset(h.l1(), 0x11, 64);
  std::memset(h.l2(), 0x22, 64);
  dory_dma_desc d = dory_dma_1d(h.l1(), h.l2(), 64, DORY_DMA_L2_TO_L1);
  dory_dma_job job = dory_dma_start(&d);
  EXPECT_EQ(h.l1()[0], 0x11) << "completed before its delay";
  const uint64_t t0 = dory_cycles();
  dory_dma_wait(job);
  EXPECT_EQ(h.l1()[63], 0x22);
  EXPECT_GE(dory_cycles() - t0, 50000000u) << "the wait returned long before the delay";
}

// DORY's pipeline on the HAL: load tile i+1 | compute tile i on 8 cores | store tile i-1, double buffered. The
// transfers overlap the kernels for real (the engine is another thread, each job takes 100 us); the result is
// exact and, under TSan, race-free: the waits and the join order every access.
TEST_F(HostHal, ADoubleBufferedPipelineOverlapsLoadComputeAndStore) {
  constexpr int kTiles = 40;
  constexpr uint32_t kTile = 8 * 4 * 8;  // the identity kernel's tile: 8 x 4 x 8 uint8
  Host h(4 * kTile, 2 * kTiles * kTile, 8);
  dory_host_set_dma_delay_us(100);
  uint8_t* src = h.l2();
  uint8_t* dst = h.l2() + kTiles * kTile;
  for (uint32_t i = 0; i < kTiles * kTile; ++i) src[i] = static_cast<uint8_t>(i * 31 + 7);
  uint8_t* in[2] = {h.l1(), h.l1() + kTile};
  uint8_t* out[2] = {h.l1() + 2 * kTile, h.l1() + 3 * kTile};
  auto load = [&](int t) {
    dory_dma_desc d = dory_dma_1d(in[t % 2], src + t * kTile, kTile, DORY_DMA_L2_TO_L1);
    return dory_dma_start(&d);
  };
  dory_dma_job ld = load(0), st = 0;
  for (int t = 0; t < kTiles; ++t) {
    dory_dma_wait(ld);                   // tile t is in
    if (t + 1 < kTiles) ld = load(t + 1);  // tile t+1 comes in while t is computed
    dory_requantize_args a = identity_args(in[t % 2], out[t % 2]);
    run_identity_kernel(&a);
    if (st) dory_dma_wait(st);  // tile t-1's store is out before its buffer is reused at t+1
    dory_dma_desc d = dory_dma_1d(dst + t * kTile, out[t % 2], kTile, DORY_DMA_L1_TO_L2);
    st = dory_dma_start(&d);
  }
  dory_dma_wait(st);
  EXPECT_EQ(0, std::memcmp(src, dst, kTiles * kTile));
}

// ---- misuse -------------------------------------------------------------------------------------------------

TEST_F(HostHal, DmaFromACoreOtherThanZeroAborts) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 2);
        dory_cluster_run(
            [](void*) {
              if (dory_core_id() == 1) {
                dory_dma_desc d = dory_dma_1d(dory_l1_base(), dory_l2_base(), 4, DORY_DMA_L2_TO_L1);
                dory_dma_start(&d);
              }
            },
            nullptr);
      },
      "dory_dma_start called on core 1: only core 0 issues and waits for DMA");
}

TEST_F(HostHal, WaitingTwiceOrForAnUnknownJobAborts) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_desc d = dory_dma_1d(h.l1(), h.l2(), 4, DORY_DMA_L2_TO_L1);
        dory_dma_job j = dory_dma_start(&d);
        dory_dma_wait(j);
        dory_dma_wait(j);
      },
      "dory_dma_wait\\(1\\): the job was already waited for");
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_wait(7);
      },
      "dory_dma_wait\\(7\\): no such job \\(the last job issued is 0\\)");
}

TEST_F(HostHal, JobsLeftInFlightAtShutdownAbort) {
  EXPECT_DEATH(
      {
        dory_host_init(4096, 4096, 1);
        dory_dma_desc d = dory_dma_1d(dory_l1_base(), dory_l2_base(), 4, DORY_DMA_L2_TO_L1);
        dory_dma_wait(dory_dma_start(&d));
        dory_dma_start(&d);
        dory_host_shutdown();
      },
      "shutdown with 1 DMA job\\(s\\) never waited for \\(the first is job 2\\)");
}

TEST_F(HostHal, MoreJobsInFlightThanTheLimitAbort) {
  EXPECT_DEATH(
      {
        Host h(4096, 4096, 1);
        dory_dma_desc d = dory_dma_1d(h.l1(), h.l2(), 4, DORY_DMA_L2_TO_L1);
        for (int i = 0; i < DORY_DMA_MAX_OUTSTANDING + 1; ++i) dory_dma_start(&d);
      },
      "DMA job 17 \\(L2->L1\\): 16 jobs are already in flight \\(the limit\\); the oldest is job 1: a missing "
      "dory_dma_wait\\?");
}

// ---- cores --------------------------------------------------------------------------------------------------

TEST_F(HostHal, ClusterRunGivesEveryCoreItsOwnId) {
  Host h(4096, 4096, 8);
  std::atomic<int> seen[8] = {};
  std::atomic<int> other_count{0};
  struct Ctx {
    std::atomic<int>* seen;
    std::atomic<int>* other;
  } ctx{seen, &other_count};
  for (int round = 0; round < 50; ++round)
    dory_cluster_run(
        [](void* p) {
          auto* c = static_cast<Ctx*>(p);
          const int id = dory_core_id();
          if (id >= 0 && id < 8 && dory_core_count() == 8) c->seen[id]++;
          else (*c->other)++;
        },
        &ctx);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(seen[i].load(), 50) << "core " << i;
  EXPECT_EQ(other_count.load(), 0);
  EXPECT_EQ(dory_core_id(), 0);
  EXPECT_EQ(dory_host_get_stats().tasks, 50u);
}

// Eight cores write their slot, meet at the barrier, read every slot, meet again, `rounds` times; returns the
// reads that saw a slot of another round (0 when the barrier orders them).
template <int kRounds>
int barrier_errors() {
  struct Ctx {
    int slots[8];  // plain ints: the barrier must order them (TSan checks it)
    std::atomic<int> errors;
  } ctx{};
  dory_cluster_run(
      [](void* p) {
        auto* c = static_cast<Ctx*>(p);
        const int id = dory_core_id();
        for (int r = 1; r <= kRounds; ++r) {
          c->slots[id] = r;
          dory_barrier();  // every core has written round r
          for (int k = 0; k < 8; ++k)
            if (c->slots[k] != r) c->errors++;
          dory_barrier();  // every core has read round r before anyone writes r + 1
        }
      },
      &ctx);
  return ctx.errors.load();
}

TEST_F(HostHal, TheBarrierSynchronizesEightCores) {
  Host h(4096, 4096, 8);
  EXPECT_EQ(barrier_errors<2000>(), 0);
}

TEST_F(HostHal, ABarrierOutsideATaskWaitsForNobodyAndLeavesTheClusterBarrierIntact) {
  Host h(4096, 4096, 8);
  // Core 0 outside dory_cluster_run: no other core runs, so the barrier must return at once (a wait for the
  // eight cores would hang this test until CTest's timeout), run no task, and leave the cluster's barrier as it
  // was: the next run's cores still meet at it in step.
  for (int i = 0; i < 3; ++i) dory_barrier();
  EXPECT_EQ(dory_core_id(), 0);
  EXPECT_EQ(dory_host_get_stats().tasks, 0u);
  EXPECT_EQ(barrier_errors<200>(), 0);
  EXPECT_EQ(dory_host_get_stats().tasks, 1u);
}

// ---- trace --------------------------------------------------------------------------------------------------

TEST(Trace, RecordsModeledCyclesAndFormatsCsv) {
  dory_trace_event storage[3];
  dory_trace_init(storage, 3);
  uint8_t a[64], b[64];
  dory_dma_desc load = dory_dma_3d(a, 8, 16, b, 8, 32, 8, 2, 4, DORY_DMA_L2_TO_L1);
  dory_dma_desc store = dory_dma_1d(b, a, 10, DORY_DMA_L1_TO_L2);
  dory_trace_dma(&load, 5, 2, 0, 1, 100, 180);
  dory_trace_compute(2, 0, 180, 1000);
  dory_trace_dma(&store, 6, 2, 0, 4, 1000, 1030);
  dory_trace_compute(2, 1, 1030, 2000);  // beyond the capacity: dropped
  ASSERT_EQ(dory_trace_count(), 3u);
  EXPECT_EQ(dory_trace_dropped(), 1u);
  char line[128];
  dory_trace_format_csv(-1, line, sizeof line);
  EXPECT_STREQ(line, "kind,layer,tile,buffer,job,bytes,start_cycles,end_cycles");
  dory_trace_format_csv(0, line, sizeof line);
  EXPECT_STREQ(line, "load,2,0,1,5,64,100,180");
  dory_trace_format_csv(1, line, sizeof line);
  EXPECT_STREQ(line, "compute,2,0,0,0,0,180,1000");
  dory_trace_format_csv(2, line, sizeof line);
  EXPECT_STREQ(line, "store,2,0,4,6,10,1000,1030");
  EXPECT_EQ(dory_trace_format_csv(3, line, sizeof line), -1);
  dory_trace_init(nullptr, 0);  // off
  dory_trace_compute(0, 0, 0, 1);
  EXPECT_EQ(dory_trace_count(), 0u);
}

}  // namespace
