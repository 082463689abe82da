#include "core/error.h"

namespace pelab {

std::string Error::user_line() const {
  std::string line = what();
  if (!hint_.empty()) line += "; " + hint_;
  // The user gets exactly one line, whatever the message contains.
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  return line;
}

std::string Error::log_text() const {
  std::string text;
  if (!file_.empty()) text = file_ + ":" + std::to_string(line_) + ": ";
  text += what();
  if (!hint_.empty()) text += "\nHINT: " + hint_;
  return text;
}

}  // namespace pelab
