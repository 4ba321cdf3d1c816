// Property: label values drawn at random from all of Unicode (and the
// characters that need escaping) survive store -> render -> the official
// Python parsers exactly, in both formats. Seeded, so a failure repeats.
#include <doctest/doctest.h>

#include <random>
#include <set>
#include <sstream>

#include "promsqlite/promsqlite.h"
#include "test_util.h"

using namespace promsqlite;

namespace {

void AppendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string RandomValue(std::mt19937& rng) {
  static const char* kTricky[] = {"\"", "\\", "\n", "\\n", "\\\"", "{", "}", "=", ",", " ", "\t", "#", "le=\"1\""};
  std::string value;
  size_t length = rng() % 24;
  for (size_t i = 0; i < length; ++i) {
    switch (rng() % 4) {
      case 0:
        value += static_cast<char>(0x20 + rng() % 0x5F);  // printable ASCII
        break;
      case 1:
        value += kTricky[rng() % (sizeof kTricky / sizeof kTricky[0])];
        break;
      default: {
        // Any scalar value of any plane (controls included) except
        // surrogates, which UTF-8 cannot encode, and a carriage return,
        // which check-exposition rejects anywhere in a text exposition.
        uint32_t cp;
        do {
          uint32_t r = static_cast<uint32_t>(rng());
          cp = r % 8 == 0 ? 1 + r / 8 % 0x7F : r % 2 ? 0x80 + r / 2 % 0xFF80 : 0x10000 + r / 2 % 0x100000;
        } while ((cp >= 0xD800 && cp <= 0xDFFF) || cp == '\r');
        AppendUtf8(value, cp);
      }
    }
  }
  return value;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.find("_created{") == std::string::npos) lines.push_back(line);
  }
  return lines;
}

}  // namespace

TEST_CASE("random Unicode label values round-trip exactly through store, render and the Python parsers") {
  test::TempDir dir;
  const std::string path = dir.File("m.db");
  std::mt19937 rng(20261128);
  std::vector<std::string> expected_text, expected_om;
  {
    Registry registry(path);
    auto family = BuildCounter().Name("prop").Help("Property test.").LabelNames({"v", "w"}).Register(registry);
    std::set<std::pair<std::string, std::string>> seen;
    const int series = test::LongTests() ? 5000 : 300;
    for (int i = 0; i < series; ++i) {
      std::string v = RandomValue(rng), w = RandomValue(rng);
      if (!seen.insert({v, w}).second) continue;
      family.WithLabelValues({v, w}).Increment(i + 1);
      std::string line = test::SampleLine("prop_total", {{"v", v}, {"w", w}}, i + 1);
      expected_text.push_back(line);
      expected_om.push_back(line);
    }
  }
  std::sort(expected_text.begin(), expected_text.end());
  std::sort(expected_om.begin(), expected_om.end());
  Reader reader(path);
  for (bool om : {false, true}) {
    CAPTURE(om);
    std::string body = reader.Render(om ? Format::kOpenMetrics : Format::kText);
    test::CommandResult parsed = test::ParseWithPython(body, om);
    INFO(parsed.output.substr(0, 2000));
    REQUIRE(parsed.exit_code == 0);
    std::vector<std::string> got = Lines(parsed.output);
    const std::vector<std::string>& want = om ? expected_om : expected_text;
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i] == want[i]);
    }
    test::CommandResult check = test::CheckExposition(body, om);
    INFO(check.output);
    CHECK(check.exit_code == 0);
  }
}
