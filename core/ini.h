// The one INI reader of pelab: `--config FILE`, the configuration a run folder
// and a checkpoint carry, sweep and claim files all go through it.
//
//   key = value          a global key (before any section)
//   [section]            the keys after it are "section.key"
//   # comment, ; comment whole-line comments; " # ..." after a value too
//
// A line that is none of these, an empty key, a section header without its
// closing bracket, or a key given twice is an error naming the source and the
// line number. Values are kept as text; their meaning is the caller's.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pelab {

struct IniEntry {
  std::string key;    // "section.key" or "key"
  std::string value;  // trimmed; may be empty
  int line = 0;       // 1-based
};

// `source` names the text in errors ("config file 'a.ini'").
std::vector<IniEntry> parse_ini(const std::string& text, const std::string& source);

// key -> value of parse_ini's entries.
std::map<std::string, std::string> ini_map(const std::vector<IniEntry>& entries);

// Global keys first, then one [section] per prefix; parse_ini reads it back.
std::string to_ini(const std::map<std::string, std::string>& kv);

}  // namespace pelab
