#include "ir/requant.h"

#include <fmt/format.h>

#include "util/diagnostic.h"

namespace dory {

dory_divisor Requant::make_divisor(uint64_t count) const {
  dory_divisor d{};
  int rc = dory_divisor_make(divisor * count, rounding == Rounding::Floor ? DORY_ROUND_FLOOR : DORY_ROUND_TOWARD_ZERO,
                             &d);
  DORY_CHECK(rc == 0, fmt::format("divisor {} x {} out of range", divisor, count));
  return d;
}

std::string requant_summary(const Requant& rq) {
  std::string m = rq.mul.size() > 1 ? "m[c]" : fmt::format("{}", rq.mul[0]);
  std::string a = rq.add.size() > 1 ? " + a[c]" : (rq.add[0] ? fmt::format(" + {}", rq.add[0]) : "");
  std::string core = fmt::format("{}((acc*{}{}) / {})", rq.rounding == Rounding::Floor ? "floor" : "trunc", m, a,
                                 rq.divisor);
  if (rq.zero_point) core += fmt::format(" + {}", rq.zero_point);
  if (rq.clamps()) core = fmt::format("clamp({}, {}, {})", core, rq.lo, rq.hi);
  return core + (rq.wide ? ", 64-bit" : ", 32-bit");
}

}  // namespace dory
