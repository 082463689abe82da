// Reads the flat JSON objects that `pelab bench ... --json` prints, one per
// line, so a sweep can check a benchmark's numbers (experiments/claim.h).
#pragma once

#include <map>
#include <string>
#include <vector>

namespace pelab {

// `s` as a JSON string, with the quotes: quote, backslash and control bytes
// escaped; other bytes as they are (text that is UTF-8 stays valid JSON).
std::string json_escape(const std::string& s);

// One object of string, number, true/false/null values (no nesting) as
// key -> text: strings unescaped, everything else as written. Throws
// pelab::Error naming `where` on anything else.
std::map<std::string, std::string> parse_json_object(const std::string& line, const std::string& where);

// Every line of `text` that starts with '{', parsed; other lines (a bench's
// progress or notes) are skipped.
std::vector<std::map<std::string, std::string>> parse_json_lines(const std::string& text, const std::string& where);

}  // namespace pelab
