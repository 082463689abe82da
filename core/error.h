// Errors: library code throws pelab::Error; the CLI prints one clean line for
// the user and keeps file:line and the hint for logs (llm.c's fopenCheck idea).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace pelab {

class Error : public std::runtime_error {
 public:
  // message: what is wrong, naming the offending value; hint: what to do.
  Error(const std::string& message, std::string hint = {}, const char* file = nullptr, int line = 0)
      : std::runtime_error(message), hint_(std::move(hint)), file_(file ? file : ""), line_(line) {}

  const std::string& hint() const { return hint_; }
  const std::string& file() const { return file_; }
  int line() const { return line_; }

  // "problem; hint" on one line, for the user's terminal.
  std::string user_line() const;
  // "file:line: problem\nHINT: hint", for logs and PELAB_DEBUG=1.
  std::string log_text() const;

 private:
  std::string hint_;
  std::string file_;
  int line_;
};

}  // namespace pelab

// PELAB_CHECK(cond, message-stream, hint-stream): throw pelab::Error with the
// call site. Both texts are built with << and only when the check fails.
#define PELAB_CHECK(cond, msg, hint)                                              \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::ostringstream pelab_msg_os_, pelab_hint_os_;                           \
      pelab_msg_os_ << msg;                                                       \
      pelab_hint_os_ << hint;                                                     \
      throw ::pelab::Error(pelab_msg_os_.str(), pelab_hint_os_.str(), __FILE__, __LINE__); \
    }                                                                             \
  } while (0)

#define PELAB_FAIL(msg, hint) PELAB_CHECK(false, msg, hint)
