// Small string helpers shared by the CLI and the result writers.
#pragma once

#include <string>
#include <vector>

namespace pelab {

std::string trim(const std::string& s);
// "a, b,c" -> {"a", "b", "c"}; empty items are kept so callers can reject them.
std::vector<std::string> split(const std::string& s, char sep = ',');
std::string join(const std::vector<std::string>& items, const std::string& sep);
// Parse a whole string as a number; `what` names the option in the error.
double parse_double(const std::string& s, const std::string& what);
long long parse_int(const std::string& s, const std::string& what);
std::vector<double> parse_double_list(const std::string& s, const std::string& what);
// Shortest text that reads back to the same double: 10000 -> "10000", 0.5 -> "0.5".
std::string format_number(double x);
// Equal as text, or both numbers of the same value ("1e4" and "10000").
bool same_text_or_number(const std::string& a, const std::string& b);

}  // namespace pelab
