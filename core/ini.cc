#include "core/ini.h"

#include <sstream>

#include "core/error.h"
#include "core/strings.h"

namespace pelab {

std::vector<IniEntry> parse_ini(const std::string& text, const std::string& source) {
  PELAB_CHECK(text.find('\0') == std::string::npos, source << " holds NUL bytes: it is not a text file",
              "pass an INI text file (key = value lines)");
  std::vector<IniEntry> out;
  std::map<std::string, int> seen;
  std::istringstream in(text);
  std::string raw, section;
  int n = 0;
  while (std::getline(in, raw)) {
    ++n;
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      PELAB_CHECK(line.back() == ']', source << " line " << n << ": section header '" << line << "' has no closing ']'",
                  "write sections as [name]");
      section = trim(line.substr(1, line.size() - 2));
      PELAB_CHECK(!section.empty() && section.find_first_of(" \t=[]") == std::string::npos,
                  source << " line " << n << ": bad section name '" << line << "'", "write sections as [name]");
      continue;
    }
    const size_t hash = line.find('#');  // a comment after the value
    if (hash != std::string::npos) line = trim(line.substr(0, hash));
    const size_t eq = line.find('=');
    PELAB_CHECK(eq != std::string::npos, source << " line " << n << ": '" << trim(raw) << "' is not 'key = value'",
                "lines must be 'key = value', '[section]' or '# comment'");
    const std::string key = trim(line.substr(0, eq));
    PELAB_CHECK(!key.empty() && key.find_first_of(" \t[]") == std::string::npos,
                source << " line " << n << ": bad key in '" << trim(raw) << "'", "lines must be 'key = value'");
    const std::string full = section.empty() ? key : section + "." + key;
    auto [it, fresh] = seen.emplace(full, n);
    PELAB_CHECK(fresh, source << " line " << n << ": '" << full << "' is already set on line " << it->second,
                "give each key once");
    out.push_back({full, trim(line.substr(eq + 1)), n});
  }
  return out;
}

std::map<std::string, std::string> ini_map(const std::vector<IniEntry>& entries) {
  std::map<std::string, std::string> kv;
  for (const auto& e : entries) kv[e.key] = e.value;
  return kv;
}

std::string to_ini(const std::map<std::string, std::string>& kv) {
  std::string global, sections, current;
  for (const auto& [k, v] : kv)
    if (k.find('.') == std::string::npos) global += k + " = " + v + "\n";
  for (const auto& [k, v] : kv) {
    const size_t dot = k.find('.');
    if (dot == std::string::npos) continue;
    const std::string sec = k.substr(0, dot);
    if (sec != current) {
      sections += "\n[" + sec + "]\n";
      current = sec;
    }
    sections += k.substr(dot + 1) + " = " + v + "\n";
  }
  return global + sections;
}

}  // namespace pelab
