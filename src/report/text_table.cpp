#include "report/text_table.h"

#include <algorithm>

namespace dory {
namespace {

bool right(const TextTable& t, size_t i) { return i < t.right_aligned.size() && t.right_aligned[i]; }

std::string pad(const std::string& s, size_t width, bool right_align) {
  if (s.size() >= width) return s;
  const std::string fill(width - s.size(), ' ');
  return right_align ? fill + s : s + fill;
}

std::vector<std::vector<std::string>> all_rows(const TextTable& t, bool escape_pipes) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back(t.header);
  for (const auto& r : t.rows) rows.push_back(r);
  for (auto& r : rows) {
    r.resize(t.header.size());
    if (escape_pipes)
      for (std::string& cell : r) {
        std::string e;
        for (char c : cell) {
          if (c == '|') e += '\\';
          e += c;
        }
        cell = std::move(e);
      }
  }
  return rows;
}

std::vector<size_t> widths(const std::vector<std::vector<std::string>>& rows, size_t columns) {
  std::vector<size_t> w(columns, 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < columns; ++i) w[i] = std::max(w[i], r[i].size());
  return w;
}

}  // namespace

std::string render_text(const TextTable& t) {
  const auto rows = all_rows(t, false);
  const auto w = widths(rows, t.header.size());
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      if (i) line += "  ";
      line += pad(r[i], w[i], right(t, i));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string render_markdown(const TextTable& t) {
  const auto rows = all_rows(t, true);
  auto w = widths(rows, t.header.size());
  for (size_t& x : w) x = std::max<size_t>(x, 3);
  std::string out;
  for (size_t k = 0; k < rows.size(); ++k) {
    std::string line = "|";
    for (size_t i = 0; i < rows[k].size(); ++i) line += " " + pad(rows[k][i], w[i], right(t, i)) + " |";
    out += line + "\n";
    if (k == 0) {
      std::string rule = "|";
      for (size_t i = 0; i < w.size(); ++i)
        rule += " " + (right(t, i) ? std::string(w[i] - 1, '-') + ":" : std::string(w[i], '-')) + " |";
      out += rule + "\n";
    }
  }
  return out;
}

}  // namespace dory
