/* The benchmark mode: per family and shape, one kernel call on operands in L1 (as the executor makes it: the args
 * in TCDM), the cluster cycles of the task (dory_pulp_take_counters: the slowest core, from just before the task
 * function to just after it, so the fork/join handshake itself is not counted) for the xpulpv2 kernel and its
 * portable twin on 8 and on 1 core, as MAC/cycle (elements/cycle for pools, add, requantize). Each call is made
 * twice and the second is timed (instruction caches warm, as for all but the first tile of a layer).
 * The two kernels' outputs are compared too. Requantization: the fast path's common case (u8 out, 32-bit,
 * divisor 2^s, floor, per-channel multipliers), input zero point 0 unless the shape says zp. */
#include "cases.h"

typedef struct {
  const char *name;
  uint64_t work; /* MACs or elements */
  const char *unit;
  /* the call as the cost model sees it (bench/kernel_rates.cpp reads the "call" lines) */
  const char *impl;                   /* the registry kernel */
  int32_t c_out, h_out, w_out, c_in;  /* the output tile and the input channels */
  int32_t k, s;                       /* window k x k, stride s */
  uint8_t split;
} bench_row;

/* One "call" line per row, printed after the table: the registry kernel, its split, the call's extents (c_out h_out
 * w_out c_in k s), whether the requantization is 64-bit, the xpulpv2 kernel's cycles on 8 and on 1 core, the
 * row's name. */
#define BENCH_MAX_ROWS 40
static char g_calls[BENCH_MAX_ROWS][200];
static int g_ncalls;

static h_arena g_A;
static uint8_t g_ref[H_L1_BYTES]; /* the twin's output (L2) */

static uint32_t isqrt_bench(uint32_t v) {
  uint32_t x = 0;
  while ((x + 1) * (x + 1) <= v) ++x;
  return x;
}

static void fill(rng_t *r, void *p, uint32_t n) {
  uint8_t *b = (uint8_t *)p;
  uint32_t i;
  for (i = 0; i < n; ++i) b[i] = (uint8_t)rng_u32(r);
}

/* A per-channel 32-bit requantization, m in [1, 2^15), a = 2^(s-1), s chosen so that outputs span u8. */
static int g_wide; /* 1: the next rows use a 64-bit requantization (an exporter's m / 2^32, as models/fmnist) */

static void make_rq(rng_t *r, dory_requant_args *rq, int32_t C, int32_t typ) {
  int32_t *p = (int32_t *)h_alloc(&g_A, (uint32_t)C * (g_wide ? 8u : 4u), 0);
  int32_t c, s = 0, m = 4000;
  memset(rq, 0, sizeof *rq);
  if (g_wide) { /* m ~ 2^32 * 128 / typ per channel, D = 2^32, a = 2^31: the product needs 64 bits */
    const int64_t m0 = ((int64_t)128 << 32) / (typ > 0 ? typ : 1);
    for (c = 0; c < C; ++c) {
      const uint64_t v = (uint64_t)(m0 - m0 / 4 + (int64_t)(rng_u32(r) % (uint32_t)(m0 / 2 + 1)));
      p[2 * c] = (int32_t)(uint32_t)v;
      p[2 * c + 1] = (int32_t)(uint32_t)(v >> 32);
    }
    rq->channel_params = p;
    rq->mul_per_channel = 1;
    rq->wide = 1;
    rq->add = (int64_t)1 << 31;
    dory_divisor_make((uint64_t)1 << 32, DORY_ROUND_FLOOR, &rq->div.d64);
    rq->hi = 255;
    return;
  }
  for (c = 0; c < C; ++c) p[c] = (int32_t)rng_range(r, 3000, 5000);
  while (((int64_t)m * typ >> s) > 128) ++s;
  rq->channel_params = p;
  rq->mul_per_channel = 1;
  rq->add = (int64_t)1 << (s > 0 ? s - 1 : 0);
  dory_divisor_make((uint64_t)1 << s, DORY_ROUND_FLOOR, &rq->div.d64);
  dory_divisor32_make((uint32_t)1 << s, DORY_ROUND_FLOOR, &rq->div.d32);
  rq->zero_point = 0;
  rq->lo = 0;
  rq->hi = 255;
}

typedef struct {
  h_kernel_fn xp, twin;
  const void *args;
  uint32_t args_bytes;
  void *out;
  uint32_t out_bytes;
} bench_call;

#ifndef BENCH_TWIN
#define BENCH_TWIN 1 /* 0: skip the portable twins (quicker runs while tuning) */
#endif

static int run_row(const bench_row *row, const bench_call *b) {
  uint32_t cyc[4] = {0, 0, 0, 0};
  int cores[2] = {8, 1}, i;
  const char *err;
  for (i = 0; i < 2; ++i) {
    /* each kernel runs once untimed first: the cycles are those of a call with the instruction caches warm, as
     * for every tile but the first of a layer */
    (void)h_run(b->xp, b->args, b->args_bytes, cores[i]);
    cyc[2 * i] = h_run(b->xp, b->args, b->args_bytes, cores[i]);
    if (i == 0) memcpy(g_ref, b->out, b->out_bytes);
    if (BENCH_TWIN) {
      (void)h_run(b->twin, b->args, b->args_bytes, cores[i]);
      cyc[2 * i + 1] = h_run(b->twin, b->args, b->args_bytes, cores[i]);
    }
    if (BENCH_TWIN && i == 0 && memcmp(g_ref, b->out, b->out_bytes) != 0) {
      printf("FAIL: %s: the xpulpv2 kernel and its twin disagree\n", row->name);
      return 1;
    }
  }
  err = h_check(&g_A);
  if (err[0]) {
    printf("FAIL: %s: %s\n", row->name, err);
    return 1;
  }
  if (g_ncalls < BENCH_MAX_ROWS)
    snprintf(g_calls[g_ncalls++], sizeof g_calls[0], "call %s %s %ld %ld %ld %ld %ld %ld %d %lu %lu %s", row->impl,
             row->split == DORY_SPLIT_ROWS ? "rows" : row->split == DORY_SPLIT_CHANNELS ? "channels" : "auto",
             (long)row->c_out, (long)row->h_out, (long)row->w_out, (long)row->c_in, (long)row->k, (long)row->s,
             g_wide, (unsigned long)cyc[0], (unsigned long)cyc[2], row->name);
  /* rates with 2 decimals, without floating point */
  printf("| %-40s | %9lu | %-5s |", row->name, (unsigned long)row->work, row->unit);
  for (i = 0; i < 4; ++i) {
    const uint64_t x100 = row->work * 100u / (cyc[i] ? cyc[i] : 1u);
    printf(" %8lu | %3lu.%02lu |", (unsigned long)cyc[i], (unsigned long)(x100 / 100u), (unsigned long)(x100 % 100u));
  }
  printf("\n");
  return 0;
}

static void k_conv_xp(const void *a) { dory_conv_u8s8_4x4__xpulpv2((const dory_conv_args *)a); }
static void k_conv_c(const void *a) { dory_conv_u8s8_4x4__c((const dory_conv_args *)a); }
static void k_pw_xp(const void *a) { dory_pointwise_u8s8_4x4__xpulpv2((const dory_conv_args *)a); }
static void k_pw_c(const void *a) { dory_pointwise_u8s8_4x4__c((const dory_conv_args *)a); }
static void k_dw_xp(const void *a) { dory_depthwise_u8s8_1x4__xpulpv2((const dory_conv_args *)a); }
static void k_dw_c(const void *a) { dory_depthwise_u8s8_1x4__c((const dory_conv_args *)a); }
static void k_fc_xp(const void *a) { dory_fc_u8s8_8x1__xpulpv2((const dory_fc_args *)a); }
static void k_fc_c(const void *a) { dory_fc_u8s8_8x1__c((const dory_fc_args *)a); }
static void k_mp_xp(const void *a) { dory_maxpool_u8__xpulpv2((const dory_maxpool_args *)a); }
static void k_mp_c(const void *a) { dory_maxpool_u8__c((const dory_maxpool_args *)a); }
static void k_ap_xp(const void *a) { dory_avgpool_u8__xpulpv2((const dory_avgpool_args *)a); }
static void k_ap_c(const void *a) { dory_avgpool_u8__c((const dory_avgpool_args *)a); }
static void k_add_xp(const void *a) { dory_add_u8__xpulpv2((const dory_add_args *)a); }
static void k_add_c(const void *a) { dory_add_u8__c((const dory_add_args *)a); }
static void k_rq_xp(const void *a) { dory_requantize_u8__xpulpv2((const dory_requantize_args *)a); }
static void k_rq_c(const void *a) { dory_requantize_u8__c((const dory_requantize_args *)a); }

/* conv / pointwise / depthwise: out h x w, cin -> cout, k x k, stride, symmetric "same"-style padding. */
static int bench_conv(rng_t *r, int family, const char *name, int32_t oh, int32_t ow, int32_t cin, int32_t cout,
                      int32_t k, int32_t s, int32_t pad, int32_t zp, uint8_t split) {
  static dory_conv_args a;
  bench_row row;
  bench_call b;
  dory_kernel_shape sh;
  const int dw = family == F_DEPTHWISE;
  const int32_t K = dw ? k * k : k * k * cin;
  int32_t c;
  uint32_t scratch;
  h_arena_reset(&g_A, 0xA5);
  memset(&a, 0, sizeof a);
  a.kh = a.kw = k;
  a.stride_h = a.stride_w = s;
  a.pad.top = a.pad.left = pad;
  /* the input box: what the output needs, padding `pad` on top/left and what the bottom/right need (<= pad) */
  a.in.h = (oh - 1) * s + k - 2 * pad;
  if (a.in.h < 1) a.in.h = 1;
  a.in.w = (ow - 1) * s + k - 2 * pad;
  if (a.in.w < 1) a.in.w = 1;
  a.pad.bottom = (oh - 1) * s + k - pad - a.in.h;
  a.pad.right = (ow - 1) * s + k - pad - a.in.w;
  if (a.pad.bottom < 0) a.pad.bottom = 0;
  if (a.pad.right < 0) a.pad.right = 0;
  a.in.c = cin;
  a.in.type = DORY_UINT8;
  a.out.h = oh;
  a.out.w = ow;
  a.out.c = cout;
  a.out.type = DORY_UINT8;
  a.input_zero_point = zp;
  a.has_requant = 1;
  a.first = a.last = 1;
  a.split = split;
  a.in.data = h_alloc(&g_A, (uint32_t)(a.in.h * a.in.w * cin), 0);
  a.weights = (const int8_t *)h_alloc(&g_A, (uint32_t)(cout * K), 0);
  a.bias = (const int32_t *)h_alloc(&g_A, (uint32_t)cout * 4u, 0);
  if (g_A.overflow) {
    printf("FAIL: %s does not fit L1\n", name);
    return 1;
  }
  fill(r, a.in.data, (uint32_t)(a.in.h * a.in.w * cin));
  fill(r, (void *)a.weights, (uint32_t)(cout * K));
  for (c = 0; c < cout; ++c) ((int32_t *)a.bias)[c] = (int32_t)rng_range(r, -5000, 5000);
  make_rq(r, &a.rq, cout, (int32_t)(isqrt_bench((uint32_t)K) * 10000u));
  a.out.data = h_alloc(&g_A, (uint32_t)(oh * ow * cout), 1);
  memset(&sh, 0, sizeof sh);
  sh.cores = 8;
  sh.c_in = cin;
  sh.h_in = a.in.h;
  sh.w_in = a.in.w;
  sh.c_out = cout;
  sh.h_out = oh;
  sh.w_out = ow;
  sh.kh = sh.kw = k;
  sh.stride_h = sh.stride_w = s;
  sh.pad = a.pad;
  sh.in_type = DORY_UINT8;
  scratch = family == F_CONV ? dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&sh)
            : family == F_POINTWISE ? dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes(&sh)
                                    : dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&sh);
  if (scratch) {
    a.scratch = h_alloc(&g_A, scratch, 1);
    a.scratch_bytes = scratch;
  }
  if (g_A.overflow) {
    printf("FAIL: %s does not fit L1 (%lu B of scratch)\n", name, (unsigned long)scratch);
    return 1;
  }
  h_seal(&g_A);
  row.name = name;
  row.work = (uint64_t)oh * (uint64_t)ow * (uint64_t)cout * (uint64_t)K;
  row.unit = "MAC";
  row.impl = family == F_CONV        ? "dory_conv_u8s8_4x4__xpulpv2"
             : family == F_POINTWISE ? "dory_pointwise_u8s8_4x4__xpulpv2"
                                     : "dory_depthwise_u8s8_1x4__xpulpv2";
  row.c_out = cout, row.h_out = oh, row.w_out = ow, row.c_in = cin, row.k = k, row.s = s, row.split = split;
  b.xp = family == F_CONV ? k_conv_xp : family == F_POINTWISE ? k_pw_xp : k_dw_xp;
  b.twin = family == F_CONV ? k_conv_c : family == F_POINTWISE ? k_pw_c : k_dw_c;
  b.args = &a;
  b.args_bytes = (uint32_t)sizeof a;
  b.out = a.out.data;
  b.out_bytes = (uint32_t)(oh * ow * cout);
  return run_row(&row, &b);
}

static int bench_fc(rng_t *r, const char *name, int32_t cin, int32_t cout) {
  static dory_fc_args a;
  bench_row row;
  bench_call b;
  int32_t c;
  h_arena_reset(&g_A, 0xA5);
  memset(&a, 0, sizeof a);
  a.in.h = a.in.w = a.out.h = a.out.w = 1;
  a.in.c = cin;
  a.out.c = cout;
  a.in.type = DORY_UINT8;
  a.out.type = DORY_UINT8;
  a.has_requant = 1;
  a.first = a.last = 1;
  a.split = DORY_SPLIT_CHANNELS;
  a.in.data = h_alloc(&g_A, (uint32_t)cin, 0);
  a.weights = (const int8_t *)h_alloc(&g_A, (uint32_t)(cin * cout), 0);
  a.bias = (const int32_t *)h_alloc(&g_A, (uint32_t)cout * 4u, 0);
  a.out.data = h_alloc(&g_A, (uint32_t)cout, 1);
  if (g_A.overflow) {
    printf("FAIL: %s does not fit L1\n", name);
    return 1;
  }
  fill(r, a.in.data, (uint32_t)cin);
  fill(r, (void *)a.weights, (uint32_t)(cin * cout));
  for (c = 0; c < cout; ++c) ((int32_t *)a.bias)[c] = (int32_t)rng_range(r, -5000, 5000);
  make_rq(r, &a.rq, cout, (int32_t)(isqrt_bench((uint32_t)cin) * 10000u));
  h_seal(&g_A);
  row.name = name;
  row.work = (uint64_t)cin * (uint64_t)cout;
  row.unit = "MAC";
  row.impl = "dory_fc_u8s8_8x1__xpulpv2";
  row.c_out = cout, row.h_out = row.w_out = 1, row.c_in = cin, row.k = row.s = 1, row.split = a.split;
  b.xp = k_fc_xp;
  b.twin = k_fc_c;
  b.args = &a;
  b.args_bytes = (uint32_t)sizeof a;
  b.out = a.out.data;
  b.out_bytes = (uint32_t)cout;
  return run_row(&row, &b);
}

/* max / average pooling, k x k stride s, no padding; global: k = the map. */
static int bench_pool(rng_t *r, int avg, const char *name, int32_t ih, int32_t iw, int32_t c, int32_t k, int32_t s) {
  static dory_maxpool_args m;
  static dory_avgpool_args v;
  dory_requant_divisor *dv;
  bench_row row;
  bench_call b;
  const int32_t oh = (ih - k) / s + 1, ow = (iw - k) / s + 1;
  dory_tile in, out;
  h_arena_reset(&g_A, 0xA5);
  in.h = ih;
  in.w = iw;
  in.c = c;
  in.type = DORY_UINT8;
  out.h = oh;
  out.w = ow;
  out.c = c;
  out.type = DORY_UINT8;
  in.data = h_alloc(&g_A, (uint32_t)(ih * iw * c), 0);
  out.data = h_alloc(&g_A, (uint32_t)(oh * ow * c), 1);
  if (g_A.overflow) {
    printf("FAIL: %s does not fit L1\n", name);
    return 1;
  }
  fill(r, in.data, (uint32_t)(ih * iw * c));
  if (!avg) {
    memset(&m, 0, sizeof m);
    m.in = in;
    m.out = out;
    m.kh = m.kw = k;
    m.stride_h = m.stride_w = s;
    m.split = DORY_SPLIT_ROWS;
    b.xp = k_mp_xp;
    b.twin = k_mp_c;
    b.args = &m;
    b.args_bytes = (uint32_t)sizeof m;
  } else {
    memset(&v, 0, sizeof v);
    v.in = in;
    v.out = out;
    v.kh = v.kw = k;
    v.stride_h = v.stride_w = s;
    v.split = oh > 1 ? DORY_SPLIT_ROWS : DORY_SPLIT_CHANNELS;
    v.rq.mul = 1;
    v.rq.lo = 0;
    v.rq.hi = 255;
    dv = (dory_requant_divisor *)h_alloc(&g_A, (uint32_t)sizeof *dv, 0);
    dory_divisor_make((uint64_t)(k * k), DORY_ROUND_FLOOR, &dv->d64);
    dory_divisor32_make((uint32_t)(k * k), DORY_ROUND_FLOOR, &dv->d32);
    v.count_div = dv;
    v.count_div_first = k * k;
    v.count_div_len = 1;
    b.xp = k_ap_xp;
    b.twin = k_ap_c;
    b.args = &v;
    b.args_bytes = (uint32_t)sizeof v;
  }
  h_seal(&g_A);
  row.name = name;
  row.work = (uint64_t)oh * (uint64_t)ow * (uint64_t)c * (uint64_t)(k * k);
  row.unit = "in-el";
  row.impl = avg ? "dory_avgpool_u8__xpulpv2" : "dory_maxpool_u8__xpulpv2";
  row.c_out = row.c_in = c, row.h_out = oh, row.w_out = ow, row.k = k, row.s = s;
  row.split = avg ? v.split : m.split;
  b.out = out.data;
  b.out_bytes = (uint32_t)(oh * ow * c);
  return run_row(&row, &b);
}

static int bench_add(rng_t *r, const char *name, int32_t h, int32_t w, int32_t c) {
  static dory_add_args a;
  bench_row row;
  bench_call b;
  int i;
  h_arena_reset(&g_A, 0xA5);
  memset(&a, 0, sizeof a);
  a.n_operands = 2;
  for (i = 0; i < 2; ++i) {
    a.op[i].in.h = h;
    a.op[i].in.w = w;
    a.op[i].in.c = c;
    a.op[i].in.type = DORY_UINT8;
    a.op[i].in.data = h_alloc(&g_A, (uint32_t)(h * w * c), 0);
    a.op[i].zero_point = 0;
    a.op[i].mul = i ? 21000 : 17000; /* QuantLab-style per-input form: m_i / 2^16 */
    a.op[i].add = 0;
    dory_divisor_make(1u << 16, DORY_ROUND_FLOOR, &a.op[i].div);
  }
  a.out.h = h;
  a.out.w = w;
  a.out.c = c;
  a.out.type = DORY_UINT8;
  a.out.data = h_alloc(&g_A, (uint32_t)(h * w * c), 1);
  if (g_A.overflow) {
    printf("FAIL: %s does not fit L1\n", name);
    return 1;
  }
  for (i = 0; i < 2; ++i) fill(r, a.op[i].in.data, (uint32_t)(h * w * c));
  a.rq.mul = 1;
  a.rq.add = 1;
  dory_divisor_make(2, DORY_ROUND_FLOOR, &a.rq.div.d64);
  dory_divisor32_make(2, DORY_ROUND_FLOOR, &a.rq.div.d32);
  a.rq.lo = 0;
  a.rq.hi = 255;
  a.split = DORY_SPLIT_ROWS;
  h_seal(&g_A);
  row.name = name;
  row.work = (uint64_t)h * (uint64_t)w * (uint64_t)c;
  row.unit = "out-el";
  row.impl = "dory_add_u8__xpulpv2";
  row.c_out = row.c_in = c, row.h_out = h, row.w_out = w, row.k = row.s = 1, row.split = a.split;
  b.xp = k_add_xp;
  b.twin = k_add_c;
  b.args = &a;
  b.args_bytes = (uint32_t)sizeof a;
  b.out = a.out.data;
  b.out_bytes = (uint32_t)(h * w * c);
  return run_row(&row, &b);
}

static int bench_requantize(rng_t *r, const char *name, int32_t h, int32_t w, int32_t c) {
  static dory_requantize_args a;
  bench_row row;
  bench_call b;
  h_arena_reset(&g_A, 0xA5);
  memset(&a, 0, sizeof a);
  a.in.h = a.out.h = h;
  a.in.w = a.out.w = w;
  a.in.c = a.out.c = c;
  a.in.type = a.out.type = DORY_UINT8;
  a.in.data = h_alloc(&g_A, (uint32_t)(h * w * c), 0);
  a.out.data = h_alloc(&g_A, (uint32_t)(h * w * c), 1);
  if (g_A.overflow) {
    printf("FAIL: %s does not fit L1\n", name);
    return 1;
  }
  fill(r, a.in.data, (uint32_t)(h * w * c));
  make_rq(r, &a.rq, c, 255);
  a.input_zero_point = 3;
  a.split = DORY_SPLIT_ROWS;
  h_seal(&g_A);
  row.name = name;
  row.work = (uint64_t)h * (uint64_t)w * (uint64_t)c;
  row.unit = "out-el";
  row.impl = "dory_requantize_u8__xpulpv2";
  row.c_out = row.c_in = c, row.h_out = h, row.w_out = w, row.k = row.s = 1, row.split = a.split;
  b.xp = k_rq_xp;
  b.twin = k_rq_c;
  b.args = &a;
  b.args_bytes = (uint32_t)sizeof a;
  b.out = a.out.data;
  b.out_bytes = (uint32_t)(h * w * c);
  return run_row(&row, &b);
}

int bench_mode(uint32_t mask) {
  rng_t r;
  int rc = 0;
  r.s = 12345;
  printf("benchmark: cluster cycles of one call (slowest core), operands in L1; rate = work / cycles\n");
  printf("| %-40s | %9s | %-5s | %8s | %6s | %8s | %6s | %8s | %6s | %8s | %6s |\n", "kernel call", "work", "unit",
         "xp 8c", "rate", "twin 8c", "rate", "xp 1c", "rate", "twin 1c", "rate");
  printf("|------------------------------------------|-----------|-------|----------|--------|----------|--------|"
         "----------|--------|----------|--------|\n");
  if (mask & (1u << F_CONV)) {
    rc |= bench_conv(&r, F_CONV, "conv 3x3 16x16 32->32 pad1", 16, 16, 32, 32, 3, 1, 1, 0, DORY_SPLIT_ROWS);
    rc |= bench_conv(&r, F_CONV, "conv 3x3 16x16 32->32 pad1 zp=7", 16, 16, 32, 32, 3, 1, 1, 7, DORY_SPLIT_ROWS);
    rc |= bench_conv(&r, F_CONV, "conv 3x3 8x8 64->64 pad1 (32 out/call)", 8, 8, 64, 32, 3, 1, 1, 0, DORY_SPLIT_ROWS);
    rc |= bench_conv(&r, F_CONV, "conv 3x3 s2 16x16->8x8 32->32 pad1", 8, 8, 32, 32, 3, 2, 1, 0, DORY_SPLIT_ROWS);
    g_wide = 1;
    rc |= bench_conv(&r, F_CONV, "conv 3x3 s2 28x28->14x14 16->32 rq64", 14, 14, 16, 32, 3, 2, 1, 0, DORY_SPLIT_ROWS);
    g_wide = 0;
    rc |= bench_conv(&r, F_CONV, "conv 3x3 s2 28x28->14x14 16->32", 14, 14, 16, 32, 3, 2, 1, 0, DORY_SPLIT_ROWS);
    rc |= bench_conv(&r, F_CONV, "conv 3x3 16x16 3->32 pad1 (first layer)", 16, 16, 3, 32, 3, 1, 1, 0,
                     DORY_SPLIT_ROWS);
  }
  if (mask & (1u << F_POINTWISE)) {
    rc |= bench_conv(&r, F_POINTWISE, "pointwise 16x16 64->64 (32 out/call)", 16, 16, 64, 32, 1, 1, 0, 0,
                     DORY_SPLIT_ROWS);
    rc |= bench_conv(&r, F_POINTWISE, "pointwise 8x8 128->128", 8, 8, 128, 128, 1, 1, 0, 0, DORY_SPLIT_ROWS);
    g_wide = 1;
    rc |= bench_conv(&r, F_POINTWISE, "pointwise 14x14 32->64 rq64", 14, 14, 32, 64, 1, 1, 0, 0, DORY_SPLIT_ROWS);
    g_wide = 0;
    rc |= bench_conv(&r, F_POINTWISE, "pointwise 14x14 32->64", 14, 14, 32, 64, 1, 1, 0, 0, DORY_SPLIT_ROWS);
    rc |= bench_conv(&r, F_POINTWISE, "pointwise 8x8 64->64 s2 (16x16 in)", 8, 8, 64, 64, 1, 2, 0, 0,
                     DORY_SPLIT_ROWS);
  }
  if (mask & (1u << F_DEPTHWISE)) {
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 16x16x32 pad1", 16, 16, 32, 32, 3, 1, 1, 0,
                     DORY_SPLIT_CHANNELS);
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 8x8x64 pad1", 8, 8, 64, 64, 3, 1, 1, 0, DORY_SPLIT_CHANNELS);
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 s2 16x16->8x8x64 pad1", 8, 8, 64, 64, 3, 2, 1, 0,
                     DORY_SPLIT_CHANNELS);
    g_wide = 1;
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 14x14x32 pad1 rq64", 14, 14, 32, 32, 3, 1, 1, 0,
                     DORY_SPLIT_CHANNELS);
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 s2 14x14->7x7x64 rq64", 7, 7, 64, 64, 3, 2, 1, 0,
                     DORY_SPLIT_CHANNELS);
    g_wide = 0;
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 14x14x32 pad1", 14, 14, 32, 32, 3, 1, 1, 0,
                     DORY_SPLIT_CHANNELS);
    rc |= bench_conv(&r, F_DEPTHWISE, "depthwise 3x3 s2 14x14->7x7x64", 7, 7, 64, 64, 3, 2, 1, 0,
                     DORY_SPLIT_CHANNELS);
  }
  if (mask & (1u << F_FC)) {
    rc |= bench_fc(&r, "fc 256->64", 256, 64);
    rc |= bench_fc(&r, "fc 1024->10", 1024, 10);
    g_wide = 1;
    rc |= bench_fc(&r, "fc 256->64 rq64", 256, 64);
    g_wide = 0;
  }
  if (mask & (1u << F_MAXPOOL)) {
    rc |= bench_pool(&r, 0, "maxpool 2x2 s2 16x16x32", 16, 16, 32, 2, 2);
    rc |= bench_pool(&r, 0, "maxpool 3x3 s2 17x17x32", 17, 17, 32, 3, 2);
  }
  if (mask & (1u << F_AVGPOOL)) {
    rc |= bench_pool(&r, 1, "avgpool 2x2 s2 16x16x32", 16, 16, 32, 2, 2);
    rc |= bench_pool(&r, 1, "avgpool 3x3 s2 17x17x32", 17, 17, 32, 3, 2);
    rc |= bench_pool(&r, 1, "global avgpool 8x8x64", 8, 8, 64, 8, 1);
  }
  if (mask & (1u << F_ADD)) rc |= bench_add(&r, "add 16x16x32 (2 x u8)", 16, 16, 32);
  if (mask & (1u << F_REQUANTIZE)) rc |= bench_requantize(&r, "requantize 16x16x32", 16, 16, 32);
  {
    int i;
    printf("\nthe calls (bench/kernel_rates compares them with a target's cost model):\n");
    for (i = 0; i < g_ncalls; ++i) printf("%s\n", g_calls[i]);
  }
  return rc;
}
