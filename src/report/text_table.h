// TextTable: the aligned tables of dory's reports, as plain text for terminals or as a GitHub markdown table
// for docs/results.md (the same rows either way, so a table in the docs is what the CLI printed).
#pragma once

#include <string>
#include <vector>

namespace dory {

struct TextTable {
  std::vector<std::string> header;
  std::vector<bool> right_aligned;             // per column; missing entries mean left-aligned
  std::vector<std::vector<std::string>> rows;  // each row has header.size() cells (shorter rows are padded)
  // Per column, where its numbers come from ("modeled", "executed"), for tables that put both side by side; an
  // empty or missing entry leaves it to the row's "source" cell. The text forms say it in the header; the HTML
  // report marks the cells (class and data-source).
  std::vector<std::string> column_source;

  void add(std::vector<std::string> row) { rows.push_back(std::move(row)); }
};

// Columns padded to their widest cell, separated by two spaces, trailing spaces removed; the header row is
// followed by nothing (dory's text tables have no rule lines).
std::string render_text(const TextTable& t);

// "| a | b |" rows with a "|---|--:|" alignment row after the header; cells padded so the source lines up;
// '|' inside a cell is escaped.
std::string render_markdown(const TextTable& t);

}  // namespace dory
