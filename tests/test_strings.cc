#include <gtest/gtest.h>

#include "core/error.h"
#include "core/strings.h"

namespace pelab {

TEST(Strings, SplitTrimsAndKeepsEmptyItems) {
  EXPECT_EQ(split(" a, b ,c"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(split("a,,b"), (std::vector<std::string>{"a", "", "b"}));
}

TEST(Strings, ParseNumbersRejectsTrailingJunk) {
  EXPECT_EQ(parse_double("1e4", "--x"), 10000.0);
  EXPECT_EQ(parse_int(" 128 ", "--x"), 128);
  EXPECT_THROW(parse_double("12abc", "--x"), Error);
  EXPECT_THROW(parse_double("", "--x"), Error);
  EXPECT_THROW(parse_double("nan", "--x"), Error);
  EXPECT_THROW(parse_double("0x10", "--x"), Error);  // strtod would read 16
  EXPECT_THROW(parse_int("1.5", "--x"), Error);
  EXPECT_THROW(parse_int("99999999999999999999", "--x"), Error);
  EXPECT_EQ(parse_double_list("10000, 500000", "--x"), (std::vector<double>{10000, 500000}));
}

TEST(Strings, FormatNumberRoundTrips) {
  EXPECT_EQ(format_number(10000), "10000");
  EXPECT_EQ(format_number(500000), "500000");
  EXPECT_EQ(format_number(0.5), "0.5");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(std::stod(format_number(1.0 / 3)), 1.0 / 3);
}

TEST(Errors, UserLineIsOneLineWithHint) {
  try {
    PELAB_CHECK(1 + 1 == 3, "bad value " << 42 << "\nsecond line", "do " << "this");
    FAIL() << "no throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.user_line(), "bad value 42 second line; do this");
    EXPECT_NE(e.log_text().find("test_strings.cc:"), std::string::npos);
    EXPECT_NE(e.log_text().find("HINT: do this"), std::string::npos);
  }
}

}  // namespace pelab
