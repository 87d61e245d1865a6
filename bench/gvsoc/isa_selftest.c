/* The ISA self-test: every Xpulpv2 encoding of runtime/kernels/xpulpv2/xpulp.h executed on a cluster core and
 * compared with its C definition (random operands), before any kernel runs. A wrong encoding or a semantics
 * misread fails here, named, instead of as a kernel mismatch. */
#include "harness.h"

#include "../../runtime/kernels/xpulpv2/xpulp.h"

static char g_fail[160];
static uint32_t g_seed;

#define CHECK(cond, ...)                                 \
  do {                                                   \
    if (!(cond) && !g_fail[0]) snprintf(g_fail, sizeof g_fail, __VA_ARGS__); \
  } while (0)

static int32_t ref_dot_us(uint32_t a, uint32_t b) {
  int32_t s = 0;
  int i;
  for (i = 0; i < 4; ++i) s += (int32_t)((a >> (8 * i)) & 0xFF) * (int32_t)(int8_t)(b >> (8 * i));
  return s;
}
static int32_t ref_dot_ss(uint32_t a, uint32_t b) {
  int32_t s = 0;
  int i;
  for (i = 0; i < 4; ++i) s += (int32_t)(int8_t)(a >> (8 * i)) * (int32_t)(int8_t)(b >> (8 * i));
  return s;
}

static void selftest_task(void *unused) {
  rng_t r;
  int it;
  (void)unused;
  r.s = g_seed;
  for (it = 0; it < 200; ++it) {
    const uint32_t a = rng_u32(&r), b = rng_u32(&r), c = rng_u32(&r);
    const int32_t sa = (int32_t)a, sb = (int32_t)(b >> (b & 15)), acc = (int32_t)c;
    uint32_t sel = 0, want = 0;
    int i;
    CHECK(xp_sdotusp_b(acc, a, b) == (int32_t)((uint32_t)acc + (uint32_t)ref_dot_us(a, b)), "pv.sdotusp.b");
    CHECK(xp_dotusp_b(a, b) == ref_dot_us(a, b), "pv.dotusp.b");
    CHECK(xp_sdotsp_b(acc, a, b) == (int32_t)((uint32_t)acc + (uint32_t)ref_dot_ss(a, b)), "pv.sdotsp.b");
    CHECK(xp_mac(acc, sa, (int32_t)b) == (int32_t)((uint32_t)acc + (uint32_t)sa * b), "p.mac");
    CHECK(xp_addn_r(acc, sa, (int32_t)b) == (int32_t)((uint32_t)acc + (uint32_t)sa) >> (b & 31), "p.addN (register)");
    CHECK(xp_max(sa, sb) == (sa > sb ? sa : sb), "p.max");
    CHECK(xp_min(sa, sb) == (sa < sb ? sa : sb), "p.min");
    {
      const int32_t hi = (int32_t)(b & 0xFFFF), x = (int32_t)a >> (c & 15);
      CHECK(xp_clipu(x, hi) == (x <= 0 ? 0 : (x >= hi ? hi : x)), "p.clipu(%ld, %ld)", (long)x, (long)hi);
    }
    {
      uint32_t m = 0;
      for (i = 0; i < 4; ++i) {
        const uint32_t e = (a >> (8 * i)) & 0xFF, f = (b >> (8 * i)) & 0xFF;
        m |= (e > f ? e : f) << (8 * i);
      }
      CHECK(xp_maxu_b(a, b) == m, "pv.maxu.b");
    }
    for (i = 0; i < 4; ++i) {
      const uint32_t s = (c >> (8 * i)) & 7u;
      const uint32_t src = (s & 4u) ? a : b; /* bit 2: rs1, else the old rd */
      sel |= s << (8 * i);
      want |= ((src >> (8 * (s & 3u))) & 0xFFu) << (8 * i);
    }
    CHECK(xp_shuffle2_b(b, a, sel) == want, "pv.shuffle2.b (sel 0x%08lx)", (unsigned long)sel);
  }
  /* loads, stores, hardware loops */
  {
    uint32_t buf[16], out[16];
    uint8_t bytes[20];
    const uint32_t *p;
    uint32_t *q;
    const uint8_t *pb;
    uint8_t *qb;
    uint32_t t0 = 0, t1 = 0, n = 5, sum = 0;
    int32_t step = 8;
    int i;
    for (i = 0; i < 16; ++i) buf[i] = rng_u32(&r);
    for (i = 0; i < 20; ++i) bytes[i] = (uint8_t)rng_u32(&r);
    p = buf;
    __asm__ volatile(XP_ASM_BEGIN XP_LW_PI("%0", 4, "%1") XP_ASM_END : "=r"(t0), "+r"(p) : : "memory");
    CHECK(t0 == buf[0] && p == buf + 1, "p.lw post-increment");
    p = buf;
    __asm__ volatile(XP_ASM_BEGIN XP_LW_RR("%0", "%2", "%1") XP_ASM_END : "=r"(t0) : "r"(p), "r"(step) : "memory");
    CHECK(t0 == buf[2], "p.lw rs2(rs1)");
    p = buf;
    __asm__ volatile(XP_ASM_BEGIN XP_LW_RRPI("%0", "%2", "%1") XP_ASM_END : "=r"(t0), "+r"(p) : "r"(step) : "memory");
    CHECK(t0 == buf[0] && p == buf + 2, "p.lw rs2(rs1!)");
    pb = bytes + 1;
    __asm__ volatile(XP_ASM_BEGIN XP_LBU_PI("%0", 3, "%1") XP_ASM_END : "=r"(t0), "+r"(pb) : : "memory");
    CHECK(t0 == bytes[1] && pb == bytes + 4, "p.lbu post-increment");
    pb = bytes + 2;
    __asm__ volatile(XP_ASM_BEGIN XP_LBU_RRPI("%0", "%2", "%1") XP_ASM_END : "=r"(t0), "+r"(pb) : "r"(step) : "memory");
    CHECK(t0 == bytes[2] && pb == bytes + 10, "p.lbu rs2(rs1!)");
    q = out;
    t1 = buf[3];
    __asm__ volatile(XP_ASM_BEGIN XP_SW_PI("%1", 8, "%0") XP_ASM_END : "+r"(q) : "r"(t1) : "memory");
    CHECK(out[0] == buf[3] && q == out + 2, "p.sw post-increment");
    qb = (uint8_t *)out;
    __asm__ volatile(XP_ASM_BEGIN XP_SB_PI("%1", 1, "%0") XP_ASM_END : "+r"(qb) : "r"(t1) : "memory");
    CHECK(((uint8_t *)out)[0] == (uint8_t)buf[3] && qb == (uint8_t *)out + 1, "p.sb post-increment");
    qb = (uint8_t *)out + 4;
    t1 = 0x1234A5u;
    __asm__ volatile(XP_ASM_BEGIN XP_SB_RRPI("%1", "%2", "%0") XP_ASM_END : "+r"(qb) : "r"(t1), "r"(step) : "memory");
    CHECK(((uint8_t *)out)[4] == 0xA5 && qb == (uint8_t *)out + 12, "p.sb rs2, rs3(rs1!)");
    qb = (uint8_t *)out + 4;
    t1 = 0x3C;
    __asm__ volatile(XP_ASM_BEGIN XP_SB_RR("%1", "%2", "%0") XP_ASM_END : : "r"(qb), "r"(t1), "r"(step) : "memory");
    CHECK(((uint8_t *)out)[12] == 0x3C, "p.sb rs2, rs3(rs1)");
    /* misaligned word load */
    pb = bytes + 1;
    __asm__ volatile("lw %0, 0(%1)\n" : "=r"(t0) : "r"(pb) : "memory");
    CHECK(t0 == ((uint32_t)bytes[1] | (uint32_t)bytes[2] << 8 | (uint32_t)bytes[3] << 16 | (uint32_t)bytes[4] << 24),
          "misaligned lw");
    /* hardware loops: 5 x 3 nested, 3-instruction bodies */
    p = buf;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("1", "%[n]", 8, "82")
                     "li %[t1], 3\n"
                     XP_LP_SETUP("0", "%[t1]", 3, "80")
                     "addi %[s], %[s], 1\n"
                     "addi %[s], %[s], 2\n"
                     "81: addi %[s], %[s], 4\n"
                     XP_LP_CHECK("80", "81", 3)
                     "addi %[s], %[s], 100\n"
                     "nop\n"
                     "83: nop\n"
                     XP_LP_CHECK("82", "83", 8)
                     XP_LP_NEST_CHECK("81", "83")
                     XP_ASM_END
                     : [s] "+r"(sum), [t1] "=&r"(t1)
                     : [n] "r"(n));
    CHECK(sum == 5u * (3u * 7u + 100u), "nested hardware loops (%lu)", (unsigned long)sum);
  }
}

int isa_selftest(uint32_t seed) {
  g_fail[0] = 0;
  g_seed = seed;
  dory_pulp_set_cores(1);
  dory_cluster_run(selftest_task, 0);
  if (g_fail[0]) {
    printf("ISA self-test FAILED: %s\n", g_fail);
    return 1;
  }
  printf("ISA self-test: ok (pv.sdotusp.b pv.dotusp.b pv.sdotsp.b pv.shuffle2.b pv.maxu.b p.mac p.max p.min "
         "p.clipu, post-increment and register-offset loads/stores (p.lw, p.lbu, p.sw, p.sb), nested hardware loops, misaligned lw)\n");
  return 0;
}
