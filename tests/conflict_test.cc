// The declaration-conflict rules (declare/conflict.h) on two specs alone,
// without a file: which stored families a name can clash with, which
// differences conflict, and the messages naming both declarations.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "declare/conflict.h"
#include "declare/validate.h"
#include "promsqlite/promsqlite.h"

using namespace promsqlite;
using detail::ConflictCandidates;
using detail::DescribeDeclaration;
using detail::FindConflict;
using detail::SameDeclaration;

namespace {

FamilySpec Spec(MetricType type, const std::string& name) {
  FamilySpec spec;
  spec.type = type;
  spec.name = name;
  return detail::NormalizeSpec(spec);
}

FamilySpec EnumSpec(const std::string& name, std::vector<std::string> states) {
  FamilySpec spec;
  spec.type = MetricType::kStateSet;
  spec.name = name;
  spec.states = std::move(states);
  return detail::NormalizeSpec(spec);
}

std::string Message(const std::optional<DeclarationConflict>& conflict) {
  REQUIRE(conflict.has_value());
  return conflict->what();
}

}  // namespace

TEST_CASE("a name's candidates are itself and the names one sample suffix away, either way") {
  CHECK(ConflictCandidates("x") == std::set<std::string>{"x", "x_bucket", "x_count", "x_created", "x_info",
                                                         "x_sum", "x_total"});
  const std::set<std::string> count = ConflictCandidates("y_count");
  CHECK(count.count("y_count"));
  CHECK(count.count("y"));  // a histogram or summary y exposes y_count
  CHECK(count.count("y_count_total"));
  CHECK_FALSE(count.count("y_counts"));
}

TEST_CASE("the same declaration is no conflict, whatever the help text or the order of label names") {
  FamilySpec stored = Spec(MetricType::kHistogram, "h_seconds");
  stored.label_names = {"a", "b"};
  stored.help = "old";
  FamilySpec spec = stored;
  spec.label_names = {"b", "a"};
  spec.help = "new";
  CHECK(SameDeclaration(stored, spec));
  CHECK_FALSE(FindConflict(stored, spec, "/m.db").has_value());
}

TEST_CASE("another type, labels, unit, buckets, states, mode, TTL or native histogram is a conflict") {
  const FamilySpec counter = Spec(MetricType::kCounter, "c");
  FamilySpec gauge = counter;
  gauge.type = MetricType::kGauge;
  CHECK(Message(FindConflict(counter, gauge, "/m.db")) ==
        "metric 'c' is declared as gauge c{}, but /m.db already declares it as counter c{}");

  FamilySpec labelled = counter;
  labelled.label_names = {"a"};
  CHECK_FALSE(SameDeclaration(counter, labelled));

  FamilySpec h1 = Spec(MetricType::kHistogram, "h");
  h1.buckets = {1, 2};
  FamilySpec h2 = h1;
  h2.buckets = {1, 5};
  CHECK(Message(FindConflict(h1, h2, "/m.db")) ==
        "metric 'h' is declared as histogram h{} buckets=[1,5], but /m.db already declares it as histogram h{} "
        "buckets=[1,2]");

  const FamilySpec e1 = EnumSpec("e", {"a", "b"});
  const FamilySpec e2 = EnumSpec("e", {"b", "a"});  // states keep their order
  CHECK_FALSE(SameDeclaration(e1, e2));

  FamilySpec plain = Spec(MetricType::kGauge, "size_bytes");
  FamilySpec with_unit = plain;
  with_unit.unit = "bytes";
  CHECK_FALSE(SameDeclaration(plain, with_unit));

  FamilySpec live = plain;
  live.gauge_mode = GaugeMode::kLiveSum;
  CHECK(Message(FindConflict(plain, live, "/m.db")).find("gauge size_bytes{} mode=livesum") != std::string::npos);

  FamilySpec ttl = plain;
  ttl.ttl_seconds = 60;
  CHECK(Message(FindConflict(plain, ttl, "/m.db")).find("gauge size_bytes{} ttl=60s, but") != std::string::npos);
}

TEST_CASE("native histograms are the same declaration when their factors give one schema") {
  FamilySpec a = Spec(MetricType::kHistogram, "rpc_seconds");
  a.buckets.clear();
  a.native_bucket_factor = 1.1;  // schema 3
  FamilySpec b = a;
  b.native_bucket_factor = 1.15;  // schema 3 too
  CHECK(SameDeclaration(a, b));
  b.native_bucket_factor = 1.05;  // schema 4
  CHECK(Message(FindConflict(a, b, "/m.db")).find("native=[schema 4, zero threshold") != std::string::npos);
  b = a;
  b.native_max_buckets = 20;
  CHECK_FALSE(SameDeclaration(a, b));
  b = a;
  b.native_zero_threshold = 0.001;
  CHECK_FALSE(SameDeclaration(a, b));
  b = a;
  b.native_bucket_factor = 0;  // classic only
  CHECK_FALSE(SameDeclaration(a, b));
}

TEST_CASE("families of other names conflict only when they would expose one name") {
  const FamilySpec counter = Spec(MetricType::kCounter, "x");
  CHECK(Message(FindConflict(counter, Spec(MetricType::kGauge, "x_total"), "/m.db")) ==
        "metric 'x_total': gauge x_total{} would expose 'x_total', which the file's counter x{} already exposes");
  CHECK(FindConflict(Spec(MetricType::kGauge, "y_count"), Spec(MetricType::kHistogram, "y"), "/m.db").has_value());
  CHECK(FindConflict(Spec(MetricType::kSummary, "z"), Spec(MetricType::kGauge, "z_sum"), "/m.db").has_value());
  // A gauge y and a gauge y_count expose nothing in common.
  CHECK_FALSE(FindConflict(Spec(MetricType::kGauge, "y"), Spec(MetricType::kGauge, "y_count"), "/m.db").has_value());
  CHECK_FALSE(FindConflict(counter, Spec(MetricType::kGauge, "x_totals"), "/m.db").has_value());
}

TEST_CASE("a declaration is described with every field that can conflict") {
  FamilySpec spec = Spec(MetricType::kGauge, "queue");
  spec.label_names = {"q", "host"};
  spec.unit = "";
  spec.gauge_mode = GaugeMode::kMax;
  spec.ttl_seconds = 1.5;
  CHECK(DescribeDeclaration(spec) == "gauge queue{host,q} mode=max ttl=1.5s");
  CHECK(DescribeDeclaration(EnumSpec("state", {"up", "down"})) == "stateset state{} states=[up,down]");
}
