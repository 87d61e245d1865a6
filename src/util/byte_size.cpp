#include "util/byte_size.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

namespace dory {
namespace {

constexpr int64_t kMaxSize = int64_t{1} << 40;  // 1 TiB: far beyond any memory level dory plans

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Diagnostic bad_size(std::string_view text, std::string_view what, const std::string& why) {
  return make_error("cli-bad-size", std::string(what), fmt::format("'{}' is not a byte size: {}", text, why),
                    "write bytes (36700) or KiB/MiB with a suffix: 36k, 64KiB, 1M (k = 1024 B)");
}

}  // namespace

Expected<int64_t> parse_byte_size(std::string_view text, std::string_view what) {
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number(text.substr(0, i));
  const std::string suffix = lower(text.substr(i));
  if (number.empty() || std::count(number.begin(), number.end(), '.') > 1 || number == ".")
    return bad_size(text, what, "expected a number");
  int64_t unit = 1;
  if (suffix.empty() || suffix == "b")
    unit = 1;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib")
    unit = 1024;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib")
    unit = 1024 * 1024;
  else
    return bad_size(text, what, fmt::format("unknown unit '{}'", text.substr(i)));
  const double value = std::strtod(number.c_str(), nullptr) * static_cast<double>(unit);
  if (!std::isfinite(value) || value > static_cast<double>(kMaxSize)) return bad_size(text, what, "too large");
  if (value != std::floor(value)) return bad_size(text, what, "not a whole number of bytes");
  return static_cast<int64_t>(value);
}

std::vector<int64_t> default_size_progression(int64_t lo, int64_t hi) {
  std::vector<int64_t> out;
  constexpr int64_t kStep = 4096;
  if (hi < lo) return out;
  if (hi <= 16 * lo && (hi - lo) / kStep + 1 <= 64) {
    out.push_back(lo);
    for (int64_t v = (lo / kStep + 1) * kStep; v < hi; v += kStep) out.push_back(v);
  } else {
    std::set<int64_t> points{lo, hi};
    for (int64_t p = 1; p <= hi; p *= 2) {
      if (p >= lo) points.insert(p);
      if (p + p / 2 >= lo && p + p / 2 <= hi && p >= 2) points.insert(p + p / 2);
    }
    out.assign(points.begin(), points.end());
  }
  if (out.empty() || out.back() != hi) out.push_back(hi);
  return out;
}

Expected<std::vector<int64_t>> parse_size_range(std::string_view text, std::string_view what) {
  auto bad = [&](const std::string& why) {
    return make_error("cli-bad-range", std::string(what), fmt::format("'{}' is not a range: {}", text, why),
                      "write LO:HI[:STEP], e.g. 8k:128k, 8k:128k:2k or 8k:1M:x2 (k = 1024 B)");
  };
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == ':') {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  if (parts.size() < 2 || parts.size() > 3) return bad("expected LO:HI or LO:HI:STEP");
  auto lo = parse_byte_size(parts[0], what);
  if (!lo) return lo.error();
  auto hi = parse_byte_size(parts[1], what);
  if (!hi) return hi.error();
  if (*lo < 1) return bad("LO must be at least 1 byte");
  if (*hi < *lo) return bad(fmt::format("HI ({}) is smaller than LO ({})", *hi, *lo));
  if (parts.size() == 2) return default_size_progression(*lo, *hi);

  std::vector<int64_t> out;
  const std::string_view step = parts[2];
  if (!step.empty() && (step[0] == 'x' || step[0] == 'X')) {
    const std::string f(step.substr(1));
    char* end = nullptr;
    const double factor = std::strtod(f.c_str(), &end);
    if (f.empty() || end != f.c_str() + f.size() || !(factor > 1.0) || !std::isfinite(factor))
      return bad(fmt::format("the factor '{}' must be a number > 1", step.substr(1)));
    double v = static_cast<double>(*lo);
    while (static_cast<int64_t>(v) <= *hi) {
      const int64_t b = static_cast<int64_t>(v);
      if (out.empty() || out.back() != b) out.push_back(b);
      v *= factor;
    }
  } else {
    auto s = parse_byte_size(step, what);
    if (!s) return s.error();
    if (*s < 1) return bad("STEP must be at least 1 byte");
    if ((*hi - *lo) / *s > 10000) return bad("more than 10,000 points");
    for (int64_t v = *lo; v <= *hi; v += *s) out.push_back(v);
  }
  if (out.back() != *hi) out.push_back(*hi);
  return out;
}

std::string format_bytes_grouped(int64_t bytes) {
  std::string digits = std::to_string(bytes < 0 ? -bytes : bytes);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return bytes < 0 ? "-" + out : out;
}

std::string format_kib_ceil(int64_t bytes) { return fmt::format("{}k", (bytes + 1023) / 1024); }

std::string format_kib_short(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes);
  if (bytes % (1024 * 1024) == 0) return fmt::format("{}M", bytes / (1024 * 1024));
  if (bytes % 1024 == 0) return fmt::format("{}k", bytes / 1024);
  std::string s = fmt::format("{:.1f}", static_cast<double>(bytes) / 1024.0);
  if (s.size() > 2 && s.substr(s.size() - 2) == ".0") s.resize(s.size() - 2);
  return s + "k";
}

}  // namespace dory
