/* The random call generators of the differential mode (cases.h). */
#include "cases.h"

const char *const family_names[F_COUNT] = {"conv", "pointwise", "depthwise", "fc",
                                           "maxpool", "avgpool", "add", "requantize"};
const char *const feature_names[CF_COUNT_BITS] = {
    "zp!=0", "psum", "int32-raw", "out8", "out16", "wide", "per-channel", "non-pow2-div", "trunc",
    "ch%4!=0", "odd-width", "pad>=k", "stride>1", "split-ch", "8-cores", "1-core", "fast-rq",
    "fast:max/min", "fast:clipu", "fast:clipu-no-zp", "fast64", "split-auto", "dw:row-pairs"};

static const char *const type_names[5] = {"u8", "s8", "u16", "s16", "i32"};

static int64_t type_lo(uint8_t t) {
  switch (t) {
    case DORY_UINT8: return 0;
    case DORY_INT8: return -128;
    case DORY_UINT16: return 0;
    case DORY_INT16: return -32768;
    default: return INT32_MIN;
  }
}
static int64_t type_hi(uint8_t t) {
  switch (t) {
    case DORY_UINT8: return 255;
    case DORY_INT8: return 127;
    case DORY_UINT16: return 65535;
    case DORY_INT16: return 32767;
    default: return INT32_MAX;
  }
}

static uint32_t isqrt32(uint32_t v) {
  uint32_t x = 0, b = 1u << 30;
  while (b > v) b >>= 2;
  while (b) {
    if (v >= x + b) {
      v -= x + b;
      x = (x >> 1) + b;
    } else {
      x >>= 1;
    }
    b >>= 2;
  }
  return x;
}

static int log2_floor(uint64_t v) {
  int l = 0;
  while (v >>= 1) ++l;
  return l;
}

static void fill_random(rng_t *r, void *p, uint32_t n) {
  uint8_t *b = (uint8_t *)p;
  uint32_t i = 0;
  while (i + 4 <= n) {
    const uint32_t v = rng_u32(r);
    memcpy(b + i, &v, 4);
    i += 4;
  }
  for (; i < n; ++i) b[i] = (uint8_t)rng_u32(r);
}

/* Output type for a requantizing layer. */
static uint8_t pick_out_type(rng_t *r) {
  const int p = (int)rng_range(r, 0, 99);
  return p < 50 ? DORY_UINT8 : p < 72 ? DORY_INT8 : p < 82 ? DORY_UINT16 : p < 92 ? DORY_INT16 : DORY_INT32;
}

/* A requantization for accumulators |v| <= bound with a typical magnitude `typ`, C channels, into out_type.
 * `count_scale`: average pooling (a[c]*cnt, cnt <= count_scale; the divisors are made by the caller). */
/* force_fast: 0 random; 1, 2, 3: the fast path's conditions with the asm finishing mode 1 (lo != 0), 2 (lo == 0,
 * zero point != 0) or 3 (lo == 0, zero point 0) when the output type allows it. */
static int g_force_fast;
static int g_pairs_shape; /* pick_window: the shapes of the depthwise kernel's two-row asm */

static int gen_requant(rng_t *r, h_arena *A, dory_requant_args *rq, int32_t C, int64_t bound, int64_t typ,
                       uint8_t out_type, int64_t count_scale, uint32_t *feat, char *d, size_t dn) {
  const int64_t tlo = type_lo(out_type), thi = type_hi(out_type);
  const int out_bits = out_type <= DORY_INT8 ? 8 : (out_type <= DORY_INT16 ? 16 : 20);
  int wide = g_force_fast ? 0 : rng_chance(r, 20);
  const int pow2 = g_force_fast || rng_chance(r, 70), trunc = !g_force_fast && rng_chance(r, 15);
  int64_t mmax, m_abs, budget, D;
  int32_t c, k;
  int s, s_exporter = -1;
  if (bound < 1) bound = 1;
  if (typ < 1) typ = 1;
  /* 32-bit path: |v*m + a*cnt| <= 2^30 */
  mmax = ((int64_t)1 << 30) / (bound + 1) / 2;
  if (mmax < 1) wide = 1;
  if (wide) mmax = ((int64_t)1 << 60) / (bound + 1) / 2;
  if (mmax > ((int64_t)1 << 24)) mmax = (int64_t)1 << 24;
  if (mmax < 1) return 0;
  rq->wide = (uint8_t)wide;
  rq->mul_per_channel = (uint8_t)rng_chance(r, 50);
  rq->add_per_channel = (uint8_t)rng_chance(r, 50);
  m_abs = rng_range(r, 1, mmax);
  if (wide && pow2 && !trunc && rng_chance(r, 60)) {
    /* an exporter's m / 2^s, s around 32, m in int32 (the 64-bit fast path): m ~ 2^(s + out_bits - 2) / typ,
     * per-channel multipliers within a factor 2 of it */
    int64_t mm;
    s_exporter = 28 + (int)rng_range(r, 0, 10); /* s < 32 too: the kernels scale m by 2^(32-s) when it fits */
    mm = ((int64_t)1 << (s_exporter + out_bits - 2)) / typ;
    if (mm > ((int64_t)1 << 31) - 1) mm = ((int64_t)1 << 31) - 1;
    if (mm > ((int64_t)1 << 60) / (bound + 1) / 2) mm = ((int64_t)1 << 60) / (bound + 1) / 2;
    if (mm < 1) mm = 1;
    m_abs = rng_range(r, (mm + 1) / 2, mm);
    mmax = mm;
  }
  budget = (wide ? ((int64_t)1 << 60) : ((int64_t)1 << 30)) - mmax * bound;
  budget /= count_scale > 0 ? count_scale : 1;
  if (budget < 1) budget = 1;
  rq->mul = rng_chance(r, 10) ? -m_abs : m_abs;
  rq->add = rng_range(r, -budget / 4, budget / 4);
  /* D: m * typ / D spans about the output's range */
  s = log2_floor((uint64_t)(m_abs * typ)) - (out_bits - 2) + (int)rng_range(r, -2, 2);
  if (s < 0) s = 0;
  if (s > (wide ? 61 : 29)) s = wide ? 61 : 29;
  if (s_exporter >= 0) s = s_exporter;
  D = (int64_t)1 << s;
  if (!pow2) D = D + rng_range(r, 1, D > 1 ? D - 1 : 1) + (s < 2 ? rng_range(r, 0, 5) : 0);
  if (count_scale > 0) {
    /* average pooling: the caller builds D*cnt divisors; keep D*count_scale in range */
    const int64_t lim = wide ? ((int64_t)1 << 61) : ((int64_t)1 << 30);
    while (D > 1 && D * count_scale >= lim) D >>= 1;
  }
  if (dory_divisor_make((uint64_t)D, trunc ? DORY_ROUND_TOWARD_ZERO : DORY_ROUND_FLOOR, &rq->div.d64)) return 0;
  if (!wide) {
    if (dory_divisor32_make((uint32_t)D, trunc ? DORY_ROUND_TOWARD_ZERO : DORY_ROUND_FLOOR, &rq->div.d32)) return 0;
  } else {
    memset(&rq->div.d32, 0x77, sizeof rq->div.d32); /* unused on the 64-bit path: garbage */
  }
  rq->zero_point = rng_chance(r, 30) ? 0 /* the fast paths' zero-point-free variants */
                                       : (int32_t)(out_type == DORY_INT32 ? rng_range(r, -1000, 1000)
                                                                          : rng_range(r, tlo, thi));
  {
    const int p = (int)rng_range(r, 0, 99);
    int64_t lo = tlo, hi = thi;
    if (out_type == DORY_INT32) {
      lo = rng_chance(r, 50) ? tlo : rng_range(r, -100000, 0);
      hi = rng_chance(r, 50) ? thi : rng_range(r, 0, 100000);
    } else if (p < 35) {
      lo = tlo;
      hi = thi;
    } else if (p < 60) {
      lo = rq->zero_point;
      hi = thi;
    } else {
      lo = rng_range(r, tlo, thi);
      hi = rng_range(r, lo, thi);
    }
    if (g_force_fast == 1 && lo == 0) lo = 1;
    if (g_force_fast >= 2) {
      lo = 0;
      if (hi < 0) hi = thi;
      if (g_force_fast == 3) rq->zero_point = 0;
      else if (rq->zero_point == 0) rq->zero_point = (int32_t)rng_range(r, 1, 100);
    }
    rq->lo = (int32_t)lo;
    rq->hi = (int32_t)hi;
  }
  k = rq->mul_per_channel + rq->add_per_channel;
  rq->channel_params = 0;
  if (k) {
    const uint32_t rec = (uint32_t)k * (wide ? 8u : 4u);
    uint8_t *p = (uint8_t *)h_alloc(A, (uint32_t)C * rec, 0);
    if (!p) return 0;
    for (c = 0; c < C; ++c) {
      int64_t v[2];
      int n = 0;
      if (rq->mul_per_channel) {
        const int64_t mc = rng_range(r, 1, mmax);
        v[n++] = rng_chance(r, 10) ? -mc : mc;
      }
      if (rq->add_per_channel) v[n++] = rng_range(r, -budget / 4, budget / 4);
      for (int i = 0; i < n; ++i) {
        if (wide) {
          const uint64_t u = (uint64_t)v[i];
          const uint32_t lo32 = (uint32_t)u, hi32 = (uint32_t)(u >> 32);
          memcpy(p + (size_t)c * rec + 8u * (uint32_t)i, &lo32, 4);
          memcpy(p + (size_t)c * rec + 8u * (uint32_t)i + 4, &hi32, 4);
        } else {
          const int32_t v32 = (int32_t)v[i];
          memcpy(p + (size_t)c * rec + 4u * (uint32_t)i, &v32, 4);
        }
      }
    }
    rq->channel_params = p;
    *feat |= CF_PERCH;
  }
  if (wide) *feat |= CF_WIDE;
  if (!pow2) *feat |= CF_NONPOW2;
  if (trunc) *feat |= CF_TRUNC;
  if (out_type <= DORY_INT8) *feat |= CF_OUT8;
  if (out_type == DORY_UINT16 || out_type == DORY_INT16) *feat |= CF_OUT16;
  if (!wide && pow2 && !trunc && out_type <= DORY_INT8) *feat |= CF_FAST;
  if (wide && pow2 && !trunc && (s >= 32 ? mmax < ((int64_t)1 << 31) : s >= 2 && mmax < ((int64_t)1 << (s - 1))) &&
      out_type <= DORY_INT8)
    *feat |= CF_FAST64;
  snprintf(d, dn, "rq{%s m=%lld%s a=%lld%s D=%lld %s zp=%ld [%ld,%ld] -> %s}", wide ? "64" : "32", (long long)rq->mul,
           rq->mul_per_channel ? "/ch" : "", (long long)rq->add, rq->add_per_channel ? "/ch" : "", (long long)D,
           trunc ? "trunc" : "floor", (long)rq->zero_point, (long)rq->lo, (long)rq->hi, type_names[out_type]);
  return 1;
}

static void pick_cores_split(rng_t *r, kcase *k, uint8_t *split) {
  const int p = (int)rng_range(r, 0, 99);
  k->cores = p < 45 ? 8 : p < 75 ? 1 : (int)rng_range(r, 2, 7);
  *split = (uint8_t)rng_chance(r, 40);
  if (*split == DORY_SPLIT_ROWS && rng_chance(r, 40)) *split = DORY_SPLIT_AUTO;
  if (k->cores == 8) k->features |= CF_8CORES;
  if (k->cores == 1) k->features |= CF_1CORE;
  if (*split == DORY_SPLIT_CHANNELS) k->features |= CF_SPLITCH;
  if (*split == DORY_SPLIT_AUTO) k->features |= CF_SPLITAUTO;
}

static int32_t pick_channels(rng_t *r, int32_t max) {
  const int p = (int)rng_range(r, 0, 99);
  if (p < 40) return 4 * (int32_t)rng_range(r, 1, max / 4);
  if (p < 65) return (int32_t)rng_range(r, 1, 3);
  return (int32_t)rng_range(r, 1, max);
}

/* Window geometry: out h x w, kernel, strides, padding, and the input box it needs (sometimes one more). */
static void pick_window(rng_t *r, kcase *k, int32_t *oh, int32_t *ow, int32_t *kh, int32_t *kw, int32_t *sh,
                        int32_t *sw, dory_pad *pad, int32_t *ih, int32_t *iw, int pointwise, int32_t maxhw) {
  int32_t need;
  *oh = (int32_t)rng_range(r, 1, maxhw);
  *ow = (int32_t)rng_range(r, 1, maxhw);
  if (g_pairs_shape) { /* the depthwise two-row asm's shapes: 3x3, stride 1, width % 4 == 0, >= 2 rows */
    *oh = (int32_t)rng_range(r, 2, maxhw);
    *ow = 4 * (int32_t)rng_range(r, 1, maxhw / 4);
  }
  if (pointwise) {
    *kh = *kw = 1;
  } else if (g_pairs_shape || rng_chance(r, 50)) {
    *kh = *kw = 3;
  } else {
    *kh = (int32_t)rng_range(r, 1, 5);
    *kw = rng_chance(r, 60) ? *kh : (int32_t)rng_range(r, 1, 5);
  }
  *sh = g_pairs_shape || rng_chance(r, 55) ? 1 : (int32_t)rng_range(r, 1, 3);
  *sw = g_pairs_shape || rng_chance(r, 70) ? *sh : (int32_t)rng_range(r, 1, 3);
  if (pointwise) {
    pad->top = pad->left = pad->bottom = pad->right = 0;
  } else if (rng_chance(r, 25)) {
    pad->top = pad->left = pad->bottom = pad->right = 0;
  } else {
    const int big = rng_chance(r, 15), huge = rng_chance(r, 5); /* windows partly / wholly in padding */
    const int32_t ph = huge ? 2 * *kh + 3 : big ? *kh + 1 : *kh / 2 + 1, pw = huge ? 2 * *kw + 3 : big ? *kw + 1 : *kw / 2 + 1;
    pad->top = (int32_t)rng_range(r, 0, ph);
    pad->bottom = (int32_t)rng_range(r, 0, ph);
    pad->left = (int32_t)rng_range(r, 0, pw);
    pad->right = (int32_t)rng_range(r, 0, pw);
    if (pad->top >= *kh || pad->bottom >= *kh || pad->left >= *kw || pad->right >= *kw) k->features |= CF_BIGPAD;
  }
  need = (*oh - 1) * *sh + *kh - pad->top - pad->bottom;
  *ih = need < 1 ? 1 : need + (int32_t)rng_range(r, 0, 1);
  need = (*ow - 1) * *sw + *kw - pad->left - pad->right;
  *iw = need < 1 ? 1 : need + (int32_t)rng_range(r, 0, 1);
  if (*sh > 1 || *sw > 1) k->features |= CF_STRIDE;
  if (*ow & 1) k->features |= CF_ODDW;
}

static int gen_mac(rng_t *r, h_arena *A, kcase *k, int family) {
  dory_conv_args *a = &k->u.conv;
  const int pointwise = family == F_POINTWISE, depthwise = family == F_DEPTHWISE;
  int32_t oh, ow, kh, kw, sh, sw, ih, iw, cin, cout, K, i;
  dory_pad pad;
  uint8_t split;
  int64_t bound, typ, wmax = 0;
  char rqd[200] = "";
  uint32_t scratch = 0;
  memset(a, 0, sizeof *a);
  pick_cores_split(r, k, &split);
  g_pairs_shape = depthwise && rng_chance(r, 20);
  pick_window(r, k, &oh, &ow, &kh, &kw, &sh, &sw, &pad, &ih, &iw, pointwise, 9);
  cin = pick_channels(r, pointwise ? 64 : 40);
  cout = depthwise ? cin : pick_channels(r, 40);
  K = depthwise ? kh * kw : kh * kw * cin;
  if ((int64_t)oh * ow * cout * K > 40000) return 0;
  a->in.h = ih;
  a->in.w = iw;
  a->in.c = cin;
  a->in.type = DORY_UINT8;
  a->out.h = oh;
  a->out.w = ow;
  a->out.c = cout;
  a->pad = pad;
  a->kh = kh;
  a->kw = kw;
  a->stride_h = sh;
  a->stride_w = sw;
  a->split = split;
  a->input_zero_point = rng_chance(r, 50) ? 0 : (int32_t)rng_range(r, 1, 255);
  if (a->input_zero_point) k->features |= CF_ZP;
  if (cout & 3) k->features |= CF_CH_REM;
  g_force_fast = g_pairs_shape ? (int)rng_range(r, 2, 3) : rng_chance(r, 25) ? (int)rng_range(r, 1, 3) : 0;
  g_pairs_shape = 0;
  if (depthwise || g_force_fast) {
    a->first = a->last = 1;
  } else if (rng_chance(r, 60)) {
    a->first = a->last = 1;
  } else {
    a->first = (uint8_t)rng_chance(r, 50);
    a->last = (uint8_t)(a->first ? 0 : rng_chance(r, 50));
    k->features |= CF_PSUM;
  }
  a->has_requant = (uint8_t)(g_force_fast || !rng_chance(r, 12));
  a->out.type = g_force_fast ? (rng_chance(r, 70) ? DORY_UINT8 : DORY_INT8)
                             : a->has_requant ? pick_out_type(r) : DORY_INT32;
  if (!a->has_requant) k->features |= CF_RAW32;
  /* buffers */
  a->in.data = h_alloc(A, (uint32_t)(ih * iw * cin), 0);
  a->weights = (const int8_t *)h_alloc(A, (uint32_t)(cout * K), 0);
  a->bias = (const int32_t *)h_alloc(A, (uint32_t)cout * 4u, 0);
  if (A->overflow) return 0;
  fill_random(r, a->in.data, (uint32_t)(ih * iw * cin));
  fill_random(r, (void *)a->weights, (uint32_t)(cout * K));
  if (rng_chance(r, 20)) { /* small weights sometimes: unsaturated outputs */
    for (i = 0; i < cout * K; ++i) ((int8_t *)a->weights)[i] = (int8_t)(a->weights[i] >> 4);
  }
  for (i = 0; i < cout * K; ++i) {
    const int64_t w = a->weights[i] < 0 ? -a->weights[i] : a->weights[i];
    if (w > wmax) wmax = w;
  }
  for (i = 0; i < cout; ++i) ((int32_t *)a->bias)[i] = (int32_t)rng_range(r, -30000, 30000);
  bound = 30000 + (int64_t)K * 255 * (wmax ? wmax : 1) + (a->first ? 0 : ((int64_t)1 << 20));
  typ = (int64_t)isqrt32((uint32_t)K) * (wmax > 16 ? 11000 : 700) + 1;
  if (a->has_requant &&
      !gen_requant(r, A, &a->rq, cout, bound, typ, a->out.type, 0, &k->features, rqd, sizeof rqd)) {
    g_force_fast = 0;
    return 0;
  }
  g_force_fast = 0;
  if ((k->features & CF_FAST) && a->first && a->last)
    k->features |= a->rq.lo != 0 ? CF_FAST_MAXMIN : a->rq.zero_point != 0 ? CF_FAST_CLIPU : CF_FAST_NOZP;
  if (depthwise && (k->features & (CF_FAST_CLIPU | CF_FAST_NOZP)) && kh == 3 && kw == 3 && sh == 1 && sw == 1 &&
      ow % 4 == 0 && oh >= 2)
    k->features |= CF_DW_PAIRS;
  if (!a->first || !a->last) {
    a->psum = (int32_t *)h_alloc(A, (uint32_t)(oh * ow * cout) * 4u, 1);
    if (!a->psum) return 0;
    for (i = 0; i < oh * ow * cout; ++i) a->psum[i] = (int32_t)rng_range(r, -(1 << 20), 1 << 20);
  }
  k->out_bytes = (uint32_t)(oh * ow * cout * dory_dtype_bytes(a->out.type));
  a->out.data = h_alloc(A, k->out_bytes, 1);
  if (!a->out.data) return 0;
  fill_random(r, a->out.data, k->out_bytes);
  {
    dory_kernel_shape s;
    memset(&s, 0, sizeof s);
    s.cores = k->cores;
    s.c_in = cin;
    s.h_in = ih;
    s.w_in = iw;
    s.c_out = cout;
    s.h_out = oh;
    s.w_out = ow;
    s.kh = kh;
    s.kw = kw;
    s.stride_h = sh;
    s.stride_w = sw;
    s.pad = pad;
    s.in_type = DORY_UINT8;
    if (rng_chance(r, 30)) { /* reserved for a larger tile of the layer */
      s.h_out += (int32_t)rng_range(r, 0, 3);
      s.w_out += (int32_t)rng_range(r, 0, 3);
      s.h_in += (int32_t)rng_range(r, 0, 3);
      s.w_in += (int32_t)rng_range(r, 0, 3);
      s.pad.left += (int32_t)rng_range(r, 0, 1);
      s.pad.right += (int32_t)rng_range(r, 0, 1);
    }
    scratch = family == F_CONV ? dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s)
              : family == F_POINTWISE ? dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes(&s)
                                      : dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&s);
  }
  if (scratch) {
    a->scratch = h_alloc(A, scratch, 1);
    if (!a->scratch) return 0;
    a->scratch_bytes = scratch;
  }
  k->out = a->out.data;
  k->out_type = a->out.type;
  k->out_h = oh;
  k->out_w = ow;
  k->out_c = cout;
  k->psum = a->psum;
  k->psum_bytes = a->psum ? (uint32_t)(oh * ow * cout) * 4u : 0u;
  snprintf(k->desc, sizeof k->desc,
           "%s cores=%d split=%s in=%ldx%ldx%ld out=%ldx%ldx%ld k=%ldx%ld s=%ldx%ld pad=t%ld,l%ld,b%ld,r%ld zp=%ld "
           "first=%d last=%d requant=%d %s scratch=%lu",
           family_names[family], k->cores, split == DORY_SPLIT_CHANNELS ? "ch" : split == DORY_SPLIT_AUTO ? "auto" : "rows", (long)ih, (long)iw, (long)cin, (long)oh, (long)ow,
           (long)cout, (long)kh, (long)kw, (long)sh, (long)sw, (long)pad.top, (long)pad.left, (long)pad.bottom,
           (long)pad.right, (long)a->input_zero_point, a->first, a->last, a->has_requant,
           a->has_requant ? rqd : "i32", (unsigned long)scratch);
  return 1;
}

static int gen_fc(rng_t *r, h_arena *A, kcase *k) {
  dory_fc_args *a = &k->u.fc;
  uint8_t split;
  int32_t cin, cout, i;
  int64_t bound, typ, wmax = 0;
  char rqd[200] = "";
  memset(a, 0, sizeof *a);
  pick_cores_split(r, k, &split);
  cin = rng_chance(r, 50) ? 4 * (int32_t)rng_range(r, 1, 150) : (int32_t)rng_range(r, 1, 600);
  cout = (int32_t)rng_range(r, 1, rng_chance(r, 50) ? 12 : 40);
  if ((int64_t)cin * cout > 20000) return 0;
  a->in.h = a->in.w = a->out.h = a->out.w = 1;
  a->in.c = cin;
  a->out.c = cout;
  a->in.type = DORY_UINT8;
  a->split = split;
  a->input_zero_point = rng_chance(r, 50) ? 0 : (int32_t)rng_range(r, 1, 255);
  if (a->input_zero_point) k->features |= CF_ZP;
  if (cout & 3) k->features |= CF_CH_REM;
  if (cin & 3) k->features |= CF_ODDW;
  if (rng_chance(r, 60)) {
    a->first = a->last = 1;
  } else {
    a->first = (uint8_t)rng_chance(r, 50);
    a->last = (uint8_t)(a->first ? 0 : rng_chance(r, 50));
    k->features |= CF_PSUM;
  }
  a->has_requant = (uint8_t)!rng_chance(r, 12);
  a->out.type = a->has_requant ? pick_out_type(r) : DORY_INT32;
  if (!a->has_requant) k->features |= CF_RAW32;
  a->in.data = h_alloc(A, (uint32_t)cin, 0);
  a->weights = (const int8_t *)h_alloc(A, (uint32_t)(cin * cout), 0);
  a->bias = (const int32_t *)h_alloc(A, (uint32_t)cout * 4u, 0);
  if (A->overflow) return 0;
  fill_random(r, a->in.data, (uint32_t)cin);
  fill_random(r, (void *)a->weights, (uint32_t)(cin * cout));
  for (i = 0; i < cin * cout; ++i) {
    const int64_t w = a->weights[i] < 0 ? -a->weights[i] : a->weights[i];
    if (w > wmax) wmax = w;
  }
  for (i = 0; i < cout; ++i) ((int32_t *)a->bias)[i] = (int32_t)rng_range(r, -30000, 30000);
  bound = 30000 + (int64_t)cin * 255 * wmax + (a->first ? 0 : ((int64_t)1 << 20));
  typ = (int64_t)isqrt32((uint32_t)cin) * 11000 + 1;
  if (a->has_requant &&
      !gen_requant(r, A, &a->rq, cout, bound, typ, a->out.type, 0, &k->features, rqd, sizeof rqd))
    return 0;
  if (!a->first || !a->last) {
    a->psum = (int32_t *)h_alloc(A, (uint32_t)cout * 4u, 1);
    if (!a->psum) return 0;
    for (i = 0; i < cout; ++i) a->psum[i] = (int32_t)rng_range(r, -(1 << 20), 1 << 20);
  }
  k->out_bytes = (uint32_t)(cout * dory_dtype_bytes(a->out.type));
  a->out.data = h_alloc(A, k->out_bytes, 1);
  if (!a->out.data) return 0;
  fill_random(r, a->out.data, k->out_bytes);
  k->out = a->out.data;
  k->out_type = a->out.type;
  k->out_h = k->out_w = 1;
  k->out_c = cout;
  k->psum = a->psum;
  k->psum_bytes = a->psum ? (uint32_t)cout * 4u : 0u;
  snprintf(k->desc, sizeof k->desc, "fc cores=%d split=%s in=%ld out=%ld zp=%ld first=%d last=%d requant=%d %s",
           k->cores, split == DORY_SPLIT_CHANNELS ? "ch" : split == DORY_SPLIT_AUTO ? "auto" : "rows", (long)cin, (long)cout, (long)a->input_zero_point, a->first, a->last,
           a->has_requant, a->has_requant ? rqd : "i32");
  return 1;
}

static int gen_pool(rng_t *r, h_arena *A, kcase *k, int avg) {
  int32_t oh, ow, kh, kw, sh, sw, ih, iw, c;
  dory_pad pad;
  uint8_t split;
  char rqd[200] = "";
  dory_tile in, out;
  pick_cores_split(r, k, &split);
  pick_window(r, k, &oh, &ow, &kh, &kw, &sh, &sw, &pad, &ih, &iw, 0, 9);
  if (rng_chance(r, 30)) { /* pooling windows: 2x2 / 3x3, stride = size often */
    kh = kw = (int32_t)rng_range(r, 2, 3);
    sh = sw = rng_chance(r, 60) ? kh : 1;
    pad.top = pad.left = pad.bottom = pad.right = rng_chance(r, 60) ? 0 : 1;
    ih = (oh - 1) * sh + kh - pad.top - pad.bottom;
    iw = (ow - 1) * sw + kw - pad.left - pad.right;
    if (ih < 1 || iw < 1) return 0;
  }
  if (avg && rng_chance(r, 15)) { /* global */
    ih = (int32_t)rng_range(r, 1, 12);
    iw = (int32_t)rng_range(r, 1, 12);
    kh = ih;
    kw = iw;
    oh = ow = 1;
    sh = sw = 1;
    pad.top = pad.left = pad.bottom = pad.right = 0;
  }
  c = pick_channels(r, 48);
  if (c & 3) k->features |= CF_CH_REM;
  in.h = ih;
  in.w = iw;
  in.c = c;
  in.type = DORY_UINT8;
  out.h = oh;
  out.w = ow;
  out.c = c;
  in.data = h_alloc(A, (uint32_t)(ih * iw * c), 0);
  if (!in.data) return 0;
  fill_random(r, in.data, (uint32_t)(ih * iw * c));
  if (!avg) {
    dory_maxpool_args *a = &k->u.maxpool;
    const int p = (int)rng_range(r, 0, 99);
    memset(a, 0, sizeof *a);
    out.type = p < 80 ? DORY_UINT8 : p < 90 ? DORY_UINT16 : DORY_INT32;
    a->has_pad_value = (uint8_t)rng_chance(r, 40);
    a->pad_value = (int32_t)rng_range(r, 0, 255);
    a->kh = kh;
    a->kw = kw;
    a->stride_h = sh;
    a->stride_w = sw;
    a->pad = pad;
    a->split = split;
    k->out_bytes = (uint32_t)(oh * ow * c * dory_dtype_bytes(out.type));
    out.data = h_alloc(A, k->out_bytes, 1);
    if (!out.data) return 0;
    a->in = in;
    a->out = out;
    snprintf(rqd, sizeof rqd, "padval=%d:%ld -> %s", a->has_pad_value, (long)a->pad_value, type_names[out.type]);
    if (out.type == DORY_UINT8) k->features |= CF_FAST;
  } else {
    dory_avgpool_args *a = &k->u.avgpool;
    int32_t full = kh * kw, cnt_first, cnt_len, j;
    int any_clip = pad.top || pad.left || pad.bottom || pad.right;
    dory_requant_divisor *dv;
    int64_t bound;
    memset(a, 0, sizeof *a);
    a->kh = kh;
    a->kw = kw;
    a->stride_h = sh;
    a->stride_w = sw;
    a->pad = pad;
    a->split = split;
    a->input_zero_point = rng_chance(r, 50) ? 0 : (int32_t)rng_range(r, 1, 255);
    if (a->input_zero_point) k->features |= CF_ZP;
    a->count_include_pad = (uint8_t)rng_chance(r, 40);
    /* without count_include_pad a window wholly in padding would divide by 0: such layers do not exist */
    if (pad.top >= kh || pad.bottom >= kh || pad.left >= kw || pad.right >= kw) a->count_include_pad = 1;
    a->pad_value = rng_chance(r, 50) ? a->input_zero_point : (int32_t)rng_range(r, 0, 255);
    out.type = pick_out_type(r);
    bound = (int64_t)full * 255;
    if (!gen_requant(r, A, &a->rq, c, bound, (int64_t)full * 60 + 1, out.type, full, &k->features, rqd, sizeof rqd))
      return 0;
    /* divisors of D*cnt for every count that can occur */
    cnt_first = (a->count_include_pad || !any_clip) ? full : 1;
    cnt_len = full - cnt_first + 1;
    dv = (dory_requant_divisor *)h_alloc(A, (uint32_t)cnt_len * (uint32_t)sizeof(dory_requant_divisor), 0);
    if (!dv) return 0;
    for (j = 0; j < cnt_len; ++j) {
      const uint64_t dd = a->rq.div.d64.d * (uint64_t)(cnt_first + j);
      if (dory_divisor_make(dd, a->rq.div.d64.rounding, &dv[j].d64)) return 0;
      if (!a->rq.wide) {
        if (dory_divisor32_make((uint32_t)dd, a->rq.div.d64.rounding, &dv[j].d32)) return 0;
      } else {
        memset(&dv[j].d32, 0x77, sizeof dv[j].d32);
      }
    }
    a->count_div = dv;
    a->count_div_first = cnt_first;
    a->count_div_len = cnt_len;
    k->out_bytes = (uint32_t)(oh * ow * c * dory_dtype_bytes(out.type));
    out.data = h_alloc(A, k->out_bytes, 1);
    if (!out.data) return 0;
    a->in = in;
    a->out = out;
  }
  fill_random(r, out.data, k->out_bytes);
  k->out = out.data;
  k->out_type = out.type;
  k->out_h = oh;
  k->out_w = ow;
  k->out_c = c;
  k->psum = 0;
  k->psum_bytes = 0;
  snprintf(k->desc, sizeof k->desc,
           "%s cores=%d split=%s in=%ldx%ldx%ld out=%ldx%ld k=%ldx%ld s=%ldx%ld pad=t%ld,l%ld,b%ld,r%ld %s",
           avg ? "avgpool" : "maxpool", k->cores, split == DORY_SPLIT_CHANNELS ? "ch" : split == DORY_SPLIT_AUTO ? "auto" : "rows", (long)ih, (long)iw, (long)c, (long)oh,
           (long)ow, (long)kh, (long)kw, (long)sh, (long)sw, (long)pad.top, (long)pad.left, (long)pad.bottom,
           (long)pad.right, rqd);
  if (avg) {
    char extra[80];
    snprintf(extra, sizeof extra, " zp=%ld incl_pad=%d padval=%ld", (long)k->u.avgpool.input_zero_point,
             k->u.avgpool.count_include_pad, (long)k->u.avgpool.pad_value);
    strncat(k->desc, extra, sizeof k->desc - strlen(k->desc) - 1);
  }
  return 1;
}

static int gen_add(rng_t *r, h_arena *A, kcase *k) {
  dory_add_args *a = &k->u.add;
  uint8_t split;
  int32_t h, w, c, n, i, j;
  int64_t bound = 0;
  char rqd[200] = "", ops[160] = "";
  memset(a, 0, sizeof *a);
  pick_cores_split(r, k, &split);
  h = (int32_t)rng_range(r, 1, 9);
  w = (int32_t)rng_range(r, 1, 9);
  c = pick_channels(r, 48);
  if (c & 3) k->features |= CF_CH_REM;
  n = rng_chance(r, 75) ? 2 : (int32_t)rng_range(r, 1, 4);
  a->n_operands = n;
  a->split = split;
  for (i = 0; i < n; ++i) {
    dory_add_operand *op = &a->op[i];
    const int shift_div = rng_chance(r, 60), small = rng_chance(r, 75);
    int64_t D;
    op->in.h = h;
    op->in.w = w;
    op->in.c = c;
    op->in.type = DORY_UINT8;
    op->in.data = h_alloc(A, (uint32_t)(h * w * c), 0);
    if (!op->in.data) return 0;
    fill_random(r, op->in.data, (uint32_t)(h * w * c));
    op->zero_point = rng_chance(r, 40) ? 0 : (int32_t)rng_range(r, 1, 255);
    /* term = R(((x - zp)*m + a)/D), |term| <= 2^22 */
    if (small) {
      op->mul = rng_range(r, -(1 << 14), 1 << 14);
      op->add = rng_range(r, -(1 << 20), 1 << 20);
      D = shift_div ? ((int64_t)1 << rng_range(r, 0, 12)) : rng_range(r, 1, 5000);
    } else {
      op->mul = rng_range(r, -((int64_t)1 << 40), (int64_t)1 << 40);
      op->add = rng_range(r, -((int64_t)1 << 45), (int64_t)1 << 45);
      D = shift_div ? ((int64_t)1 << rng_range(r, 28, 40)) : rng_range(r, (int64_t)1 << 28, (int64_t)1 << 40);
    }
    if (dory_divisor_make((uint64_t)D, rng_chance(r, 15) ? DORY_ROUND_TOWARD_ZERO : DORY_ROUND_FLOOR, &op->div))
      return 0;
    {
      const int64_t mabs = op->mul < 0 ? -op->mul : op->mul, aabs = op->add < 0 ? -op->add : op->add;
      bound += (255 * mabs + aabs) / D + 1;
    }
    if (op->zero_point) k->features |= CF_ZP;
    j = (int32_t)strlen(ops);
    snprintf(ops + j, sizeof ops - (size_t)j, " op%ld{zp=%ld m=%lld a=%lld D=%lld}", (long)i, (long)op->zero_point,
             (long long)op->mul, (long long)op->add, (long long)D);
  }
  {
    const uint8_t ot = pick_out_type(r);
    uint32_t f = 0;
    if (!gen_requant(r, A, &a->rq, c, bound, bound / 4 + 1, ot, 0, &f, rqd, sizeof rqd)) return 0;
    /* per tensor only: drop any per-channel choice */
    a->rq.mul_per_channel = a->rq.add_per_channel = 0;
    a->rq.channel_params = 0;
    k->features |= f & ~CF_PERCH;
    a->out.h = h;
    a->out.w = w;
    a->out.c = c;
    a->out.type = ot;
  }
  k->out_bytes = (uint32_t)(h * w * c * dory_dtype_bytes(a->out.type));
  a->out.data = h_alloc(A, k->out_bytes, 1);
  if (!a->out.data) return 0;
  fill_random(r, a->out.data, k->out_bytes);
  k->out = a->out.data;
  k->out_type = a->out.type;
  k->out_h = h;
  k->out_w = w;
  k->out_c = c;
  k->psum = 0;
  k->psum_bytes = 0;
  snprintf(k->desc, sizeof k->desc, "add cores=%d split=%s %ldx%ldx%ld n=%ld%s %s", k->cores, split == DORY_SPLIT_CHANNELS ? "ch" : split == DORY_SPLIT_AUTO ? "auto" : "rows",
           (long)h, (long)w, (long)c, (long)n, ops, rqd);
  return 1;
}

static int gen_requantize(rng_t *r, h_arena *A, kcase *k) {
  dory_requantize_args *a = &k->u.requantize;
  uint8_t split;
  int32_t h, w, c;
  char rqd[200] = "";
  memset(a, 0, sizeof *a);
  pick_cores_split(r, k, &split);
  if (rng_chance(r, 20)) { /* flat */
    h = w = 1;
    c = (int32_t)rng_range(r, 1, 700);
  } else {
    h = (int32_t)rng_range(r, 1, 9);
    w = (int32_t)rng_range(r, 1, 9);
    c = pick_channels(r, 48);
  }
  if (c & 3) k->features |= CF_CH_REM;
  a->in.h = a->out.h = h;
  a->in.w = a->out.w = w;
  a->in.c = a->out.c = c;
  a->in.type = DORY_UINT8;
  a->split = split;
  a->input_zero_point = rng_chance(r, 50) ? 0 : (int32_t)rng_range(r, 1, 255);
  if (a->input_zero_point) k->features |= CF_ZP;
  a->in.data = h_alloc(A, (uint32_t)(h * w * c), 0);
  if (!a->in.data) return 0;
  fill_random(r, a->in.data, (uint32_t)(h * w * c));
  a->out.type = pick_out_type(r);
  if (!gen_requant(r, A, &a->rq, c, 256, 100, a->out.type, 0, &k->features, rqd, sizeof rqd)) return 0;
  k->out_bytes = (uint32_t)(h * w * c * dory_dtype_bytes(a->out.type));
  a->out.data = h_alloc(A, k->out_bytes, 1);
  if (!a->out.data) return 0;
  fill_random(r, a->out.data, k->out_bytes);
  k->out = a->out.data;
  k->out_type = a->out.type;
  k->out_h = h;
  k->out_w = w;
  k->out_c = c;
  k->psum = 0;
  k->psum_bytes = 0;
  snprintf(k->desc, sizeof k->desc, "requantize cores=%d split=%s %ldx%ldx%ld zp=%ld %s", k->cores,
           split == DORY_SPLIT_CHANNELS ? "ch" : split == DORY_SPLIT_AUTO ? "auto" : "rows", (long)h, (long)w, (long)c, (long)a->input_zero_point, rqd);
  return 1;
}

int gen_case(rng_t *r, h_arena *A, int f, kcase *k) {
  memset(k, 0, sizeof *k);
  k->family = f;
  switch (f) {
    case F_CONV:
    case F_POINTWISE:
    case F_DEPTHWISE: return gen_mac(r, A, k, f);
    case F_FC: return gen_fc(r, A, k);
    case F_MAXPOOL: return gen_pool(r, A, k, 0);
    case F_AVGPOOL: return gen_pool(r, A, k, 1);
    case F_ADD: return gen_add(r, A, k);
    default: return gen_requantize(r, A, k);
  }
}
