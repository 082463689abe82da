// core/json_line.h: the flat objects `pelab bench --json` prints, and what is not one.
#include <gtest/gtest.h>

#include "core/error.h"
#include "core/json_line.h"

namespace pelab {
namespace {

TEST(JsonLine, FlatObjectsOfStringsNumbersAndLiterals) {
  const auto m = parse_json_object(R"({"topic": "eval", "seq":4096, "ratio": 6.54e-01, "ok": true, "x": null,)"
                                   R"( "s": "a \"q\" \\ b"})", "test");
  EXPECT_EQ(m.at("topic"), "eval");
  EXPECT_EQ(m.at("seq"), "4096");
  EXPECT_EQ(m.at("ratio"), "6.54e-01");
  EXPECT_EQ(m.at("ok"), "true");
  EXPECT_EQ(m.at("x"), "null");
  EXPECT_EQ(m.at("s"), "a \"q\" \\ b");
  EXPECT_TRUE(parse_json_object("{ }", "test").empty());
}

TEST(JsonLine, LinesThatAreNotObjectsAreSkippedAndBadObjectsNamed) {
  const auto rows = parse_json_lines("pelab bench: a note\n{\"a\": 1}\n\n{\"a\": 2}", "out.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1].at("a"), "2");
  for (const char* bad : {"{\"a\": {\"b\": 1}}", "{\"a\": [1]}", "{\"a\" 1}", "{\"a\": 1", "{\"a\": 1} x", "{\"a\": }"}) {
    try {
      parse_json_lines(std::string("{\"ok\": 1}\n") + bad, "out.jsonl");
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("out.jsonl line 2: not a flat JSON object"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace pelab
