// HTTP content negotiation for /metrics: which exposition format (Accept)
// and whether to gzip (Accept-Encoding), honouring q-values as RFC 9110
// describes them, including q=0 ("not acceptable").
#ifndef PROMSQLITE_SERVER_NEGOTIATION_H_
#define PROMSQLITE_SERVER_NEGOTIATION_H_

#include <string_view>

#include "promsqlite/exposition.h"

namespace promsqlite_server {

struct FormatChoice {
  // False when the client refused every format we have (answer 406).
  bool acceptable = true;
  promsqlite::Format format = promsqlite::Format::kText;
};

// The protobuf exposition when the client prefers it (Prometheus 2.x with
// native histograms enabled does), OpenMetrics 1.0 when the client prefers
// that (Prometheus 2.x does), otherwise the text format 0.0.4. Protobuf must
// be named exactly (proto=io.prometheus.client.MetricFamily;
// encoding=delimited); wildcards never select it. Ties go to the text
// format, then OpenMetrics, as do an
// absent header and a header naming neither format (client_golang's
// fallback, which every scraper understands). The most specific media range
// that matches decides a format's q, so "text/plain;q=0, */*" refuses text.
FormatChoice NegotiateFormat(std::string_view accept);

// True when gzip is acceptable (by "gzip", "x-gzip" or "*" with q > 0) and
// not ranked below an explicitly listed "identity".
bool AcceptsGzip(std::string_view accept_encoding);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_NEGOTIATION_H_
