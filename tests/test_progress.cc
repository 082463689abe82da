#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/progress.h"

namespace pelab {

namespace {
std::string run(Progress::Mode mode, double every) {
  std::FILE* f = std::tmpfile();
  {
    Progress p("step", 3, mode, f, every);
    for (int i = 1; i <= 3; ++i) p.update(i, "loss 1.5");
    p.finish("done");
  }
  std::rewind(f);
  std::string s;
  char buf[256];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}
}  // namespace

TEST(Progress, PlainModeWritesWholeLinesWithoutCarriageReturns) {
  std::string s = run(Progress::Mode::PLAIN, 0.0);
  EXPECT_EQ(s.find('\r'), std::string::npos);
  EXPECT_EQ(s.find('\x1b'), std::string::npos);
  EXPECT_NE(s.find("[step 1/3] loss 1.5"), std::string::npos);
  EXPECT_NE(s.find("[step 3/3] done"), std::string::npos);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 4);
}

TEST(Progress, PlainModeThrottles) {
  // With a 1-hour period only the final line is printed.
  std::string s = run(Progress::Mode::PLAIN, 3600.0);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);
  EXPECT_NE(s.find("[step 3/3] done"), std::string::npos);
}

TEST(Progress, TerminalModeRewritesOneLine) {
  std::string s = run(Progress::Mode::TERMINAL, 0.0);
  EXPECT_EQ(s.front(), '\r');
  EXPECT_NE(s.find("\x1b[K"), std::string::npos);
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);  // only finish() ends the line
}

TEST(Progress, QuietPrintsNothing) { EXPECT_EQ(run(Progress::Mode::QUIET, 0.0), ""); }

TEST(Progress, FormatShowsRateAndEta) {
  Progress p("step", 100, Progress::Mode::QUIET);
  EXPECT_EQ(p.format(50, "", 10.0), "[step 50/100] 5.00 it/s ETA 10s");
  EXPECT_EQ(format_duration(7300), "2h01m");
}

}  // namespace pelab
