#include <doctest/doctest.h>

#include "base/escape.h"
#include "base/tuple_codec.h"

using namespace promsqlite::detail;

TEST_CASE("HELP escapes only backslash and newline in text 0.0.4, also quotes in OpenMetrics") {
  std::string text, om;
  const std::string help = "a \\ b\n\"c\" \t ü";
  AppendEscapedHelp(text, help, false);
  AppendEscapedHelp(om, help, true);
  CHECK(text == "a \\\\ b\\n\"c\" \t ü");
  CHECK(om == "a \\\\ b\\n\\\"c\\\" \t ü");
}

TEST_CASE("label values escape backslash, double quote and newline, nothing else") {
  std::string out;
  AppendEscapedLabelValue(out, std::string("x\\y\"z\nw\r\t\0end", 14));
  CHECK(out == std::string("x\\\\y\\\"z\\nw\r\t\0end", 17));
}

TEST_CASE("the label tuple encoding round-trips any bytes and sorts like the tuples") {
  std::vector<std::vector<std::string>> tuples = {
      {},
      {""},
      {"", ""},
      {std::string("a\0b", 3), "c"},
      {std::string("\0", 1)},
      {"a", "z"},
      {"ab", "c"},
      {"\xff\xfe", "\x01"},
  };
  for (const auto& t : tuples) {
    std::vector<std::string> back = {"stale"};
    REQUIRE(DecodeTuple(EncodeTuple(t), &back));
    CHECK(back == t);
  }
  // memcmp order of encodings == lexicographic order of tuples.
  for (const auto& a : tuples) {
    for (const auto& b : tuples) {
      if (a.size() != b.size()) continue;
      CHECK((EncodeTuple(a) < EncodeTuple(b)) == (a < b));
    }
  }
  std::vector<std::string> out;
  CHECK_FALSE(DecodeTuple(std::string("abc", 3), &out));
  CHECK_FALSE(DecodeTuple(std::string("a\0\x02", 3), &out));
  CHECK_FALSE(DecodeTuple(std::string("a\0", 2), &out));
}
