/* The differential mode: random calls of every family (cases.c), each run by the portable twin and by the
 * xpulpv2 kernel on the same operands, every output and partial-sum element compared, canaries and read-only
 * buffers checked after both. The first mismatch is reported with the case and the run stops with status 1. */
#include "cases.h"

typedef struct {
  const char *name;
  h_kernel_fn xp, twin;
} kernel_pair;

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

static const kernel_pair kernels[F_COUNT] = {
    {"dory_conv_u8s8_4x4__xpulpv2", k_conv_xp, k_conv_c},
    {"dory_pointwise_u8s8_4x4__xpulpv2", k_pw_xp, k_pw_c},
    {"dory_depthwise_u8s8_1x4__xpulpv2", k_dw_xp, k_dw_c},
    {"dory_fc_u8s8_8x1__xpulpv2", k_fc_xp, k_fc_c},
    {"dory_maxpool_u8__xpulpv2", k_mp_xp, k_mp_c},
    {"dory_avgpool_u8__xpulpv2", k_ap_xp, k_ap_c},
    {"dory_add_u8__xpulpv2", k_add_xp, k_add_c},
    {"dory_requantize_u8__xpulpv2", k_rq_xp, k_rq_c},
};

/* Saved operand state and the twin's results (L2). */
static uint8_t g_out0[H_L1_BYTES], g_psum0[H_L1_BYTES], g_out_ref[H_L1_BYTES], g_psum_ref[H_L1_BYTES];

static int32_t load_elem(const void *p, uint8_t t, uint32_t i) {
  switch (t) {
    case DORY_UINT8: return ((const uint8_t *)p)[i];
    case DORY_INT8: return ((const int8_t *)p)[i];
    case DORY_UINT16: return ((const uint16_t *)p)[i];
    case DORY_INT16: return ((const int16_t *)p)[i];
    default: return ((const int32_t *)p)[i];
  }
}

/* "" if equal, else the first differing element. */
static const char *compare(const char *what, const void *got, const void *want, uint8_t t, uint32_t bytes,
                           const kcase *k) {
  static char msg[200];
  const uint32_t eb = (uint32_t)dory_dtype_bytes(t), n = bytes / eb;
  uint32_t i;
  if (memcmp(got, want, bytes) == 0) return "";
  for (i = 0; i < n; ++i) {
    const int32_t g = load_elem(got, t, i), w = load_elem(want, t, i);
    if (g != w) {
      const uint32_t c = i % (uint32_t)k->out_c, px = i / (uint32_t)k->out_c;
      snprintf(msg, sizeof msg, "%s element %lu (h %lu, w %lu, c %lu): xpulpv2 %ld, twin %ld", what,
               (unsigned long)i, (unsigned long)(px / (uint32_t)k->out_w), (unsigned long)(px % (uint32_t)k->out_w),
               (unsigned long)c, (long)g, (long)w);
      return msg;
    }
  }
  return "bytes differ";
}

int diff_mode(uint32_t seed, int cases_per_family, uint32_t family_mask) {
  static h_arena A;
  static kcase k;
  uint32_t feat_count[F_COUNT][CF_COUNT_BITS];
  int f, i, j, total = 0;
  rng_t r;
  memset(feat_count, 0, sizeof feat_count);
  printf("differential mode: seed %lu, %d cases per family\n", (unsigned long)seed, cases_per_family);
  for (f = 0; f < F_COUNT; ++f) {
    if (!(family_mask & (1u << f))) continue;
    r.s = seed * 0x100000001B3ull + (uint64_t)f * 0x9E3779B97F4A7C15ull;
    for (i = 0; i < cases_per_family; ++i) {
      const char *err;
      int tries = 0;
      do {
        h_arena_reset(&A, (uint8_t)(0x5Au ^ seed)); /* one canary value per run: resets stay cheap */
        ++tries;
      } while (!gen_case(&r, &A, f, &k) && tries < 1000);
      if (tries >= 1000) {
        printf("FAIL: %s: no case fits after 1000 tries\n", family_names[f]);
        return 1;
      }
      h_seal(&A);
      memcpy(g_out0, k.out, k.out_bytes);
      if (k.psum) memcpy(g_psum0, k.psum, k.psum_bytes);
      /* the twin */
      h_run(kernels[f].twin, &k.u, (uint32_t)sizeof k.u, k.cores);
      err = h_check(&A);
      if (err[0]) {
        printf("FAIL: %s case %d (portable twin!): %s\n  %s\n", family_names[f], i, err, k.desc);
        return 1;
      }
      memcpy(g_out_ref, k.out, k.out_bytes);
      if (k.psum) memcpy(g_psum_ref, k.psum, k.psum_bytes);
      memcpy(k.out, g_out0, k.out_bytes);
      if (k.psum) memcpy(k.psum, g_psum0, k.psum_bytes);
      /* the xpulpv2 kernel */
      h_run(kernels[f].xp, &k.u, (uint32_t)sizeof k.u, k.cores);
      err = compare("out", k.out, g_out_ref, k.out_type, k.out_bytes, &k);
      if (!err[0] && k.psum) err = compare("psum", k.psum, g_psum_ref, DORY_INT32, k.psum_bytes, &k);
      if (!err[0]) err = h_check(&A);
      if (err[0]) {
        printf("FAIL: %s case %d (seed %lu): %s\n  %s\n", kernels[f].name, i, (unsigned long)seed, err, k.desc);
        return 1;
      }
      for (j = 0; j < CF_COUNT_BITS; ++j)
        if (k.features & (1u << j)) feat_count[f][j]++;
      ++total;
    }
    printf("  %-34s %4d cases ok; coverage:", kernels[f].name, cases_per_family);
    for (j = 0; j < CF_COUNT_BITS; ++j)
      if (feat_count[f][j]) printf(" %s %lu", feature_names[j], (unsigned long)feat_count[f][j]);
    printf("\n");
  }
  printf("differential mode: %d cases, every element equal, canaries and read-only buffers intact\n", total);
  return 0;
}
