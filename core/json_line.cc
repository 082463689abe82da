#include "core/json_line.h"

#include <cctype>
#include <cstdio>

#include "core/error.h"

namespace pelab {

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

namespace {

class Reader {
 public:
  Reader(const std::string& s, const std::string& where) : s_(s), where_(where) {}

  std::map<std::string, std::string> object() {
    std::map<std::string, std::string> out;
    expect('{');
    skip();
    if (peek() == '}') return ++i_, out;
    for (;;) {
      skip();
      const std::string key = string();
      skip();
      expect(':');
      skip();
      out[key] = peek() == '"' ? string() : scalar();
      skip();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      expect('}');
      break;
    }
    skip();
    if (i_ != s_.size()) fail("text after the object");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(where_ + ": not a flat JSON object (" + what + " at character " + std::to_string(i_ + 1) + ")",
                "the line should be one object of strings and numbers, as pelab bench --json prints");
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void expect(char c) {
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size()) fail("a string that does not end");
        const char e = s_[i_++];
        c = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;  // \" \\ \/ as themselves
        if (e == 'u') fail("a \\u escape");
      }
      out += c;
    }
    expect('"');
    return out;
  }
  std::string scalar() {
    const size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' || s_[i_] == '+' ||
                              s_[i_] == '.'))
      ++i_;
    if (i_ == start) fail(peek() == '{' || peek() == '[' ? "a nested value" : "a value");
    return s_.substr(start, i_ - start);
  }

  const std::string& s_;
  const std::string& where_;
  size_t i_ = 0;
};

}  // namespace

std::map<std::string, std::string> parse_json_object(const std::string& line, const std::string& where) {
  return Reader(line, where).object();
}

std::vector<std::map<std::string, std::string>> parse_json_lines(const std::string& text, const std::string& where) {
  std::vector<std::map<std::string, std::string>> rows;
  size_t start = 0, line = 1;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string l = text.substr(start, end - start);
    if (!l.empty() && l[0] == '{') rows.push_back(parse_json_object(l, where + " line " + std::to_string(line)));
    start = end + 1;
    ++line;
  }
  return rows;
}

}  // namespace pelab
