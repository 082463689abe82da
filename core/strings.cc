#include "core/strings.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/error.h"

namespace pelab {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return {};
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(trim(s.substr(start, p == std::string::npos ? std::string::npos : p - start)));
    if (p == std::string::npos) break;
    start = p + 1;
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

double parse_double(const std::string& s, const std::string& what) {
  std::string t = trim(s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(t.c_str(), &end);
  // strtod also reads hexadecimal ("0x10" = 16): no option means that.
  PELAB_CHECK(!t.empty() && end == t.c_str() + t.size() && errno == 0 && std::isfinite(v) &&
                  t.find_first_of("xX") == std::string::npos,
              "invalid value '" << s << "' for " << what << ": not a finite number", "write a number such as 10000 or 1e4");
  return v;
}

long long parse_int(const std::string& s, const std::string& what) {
  std::string t = trim(s);
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(t.c_str(), &end, 10);
  PELAB_CHECK(!t.empty() && end == t.c_str() + t.size() && errno == 0,
              "invalid value '" << s << "' for " << what << ": not an integer", "write a whole number such as 128");
  return v;
}

std::vector<double> parse_double_list(const std::string& s, const std::string& what) {
  std::vector<double> out;
  for (const auto& item : split(s)) out.push_back(parse_double(item, what));
  return out;
}

std::string format_number(double x) {
  char buf[40];
  if (x == std::floor(x) && std::fabs(x) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", x);
    return buf;
  }
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  return buf;
}

bool same_text_or_number(const std::string& a, const std::string& b) {
  if (a == b) return true;
  char* ea = nullptr;
  char* eb = nullptr;
  const double x = std::strtod(a.c_str(), &ea), y = std::strtod(b.c_str(), &eb);
  return !a.empty() && !b.empty() && *ea == '\0' && *eb == '\0' && x == y;
}

}  // namespace pelab
