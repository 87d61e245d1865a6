// Byte sizes and ranges of sizes as users type them on the command line (--l1 36k, --l1 8k:128k:4k).
//
// A size is a non-negative integer with an optional binary suffix, case-insensitive for the letter:
//   36700        bytes
//   36k  36K  36kB  36KB  36KiB     x 1024   (dory's "k" is always 1024: the tiler's hints, e.g. "--l1 69k",
//   1M   1MB  1MiB                  x 1024^2  are whole KiB rounded up, so a hint pasted back must fit)
//   1.5k                            fractions are allowed when the product is a whole number of bytes
// A sweep range is LO:HI[:STEP] with LO <= HI, both sizes; STEP is a size (linear: LO, LO+STEP, ... <= HI) or
// xF with a factor F > 1 (geometric: LO, LO*F, ... rounded down to whole bytes, <= HI). HI is always included
// as the last point even when the progression does not land on it. Without STEP: when HI <= 16 * LO and that
// gives at most 64 points, LO and the multiples of 4k between LO and HI (8k:128k -> 8k, 12k, ..., 128k); else
// the 1-1.5-2 progression: LO, the powers of two and their midpoints 1.5 * 2^n between LO and HI, and HI
// (128:128k -> 128, 192, 256, 384, ..., 96k, 128k).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/diagnostic.h"

namespace dory {

// Parses a size; `what` names the flag in the diagnostic (code "cli-bad-size").
Expected<int64_t> parse_byte_size(std::string_view text, std::string_view what);

// Parses LO:HI[:STEP] into the increasing list of sizes it denotes (code "cli-bad-range").
Expected<std::vector<int64_t>> parse_size_range(std::string_view text, std::string_view what);

// The default progression used when a range has no STEP (see above).
std::vector<int64_t> default_size_progression(int64_t lo, int64_t hi);

// Sizes as dory prints them. format_bytes_grouped: thousands separators, 70144 -> "70,144" (the "36,700 B"
// style of messages and tables). format_kib_ceil: whole KiB rounded up, 70144 -> "69k" (a size hint, e.g.
// "--l1 69k", that parse_byte_size reads back and that is never below the bytes). format_kib_short: the short
// form for axes and tables, 36700 -> "35.8k", 65536 -> "64k", 1536 -> "1.5k", 512 -> "512".
std::string format_bytes_grouped(int64_t bytes);
std::string format_kib_ceil(int64_t bytes);
std::string format_kib_short(int64_t bytes);

}  // namespace dory
