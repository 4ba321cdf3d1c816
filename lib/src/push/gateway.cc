// Pushgateway: PUT/POST the text exposition to
// <url>/metrics/job/<job>{/<label>/<value>}.
#include <cstdint>
#include <string>

#include "promsqlite/push.h"
#include "promsqlite/validate.h"
#include "push/http.h"

namespace promsqlite {
namespace {

bool Unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         c == '.' || c == '~';
}

// RFC 4648 section 5 (URL- and filename-safe), padded, as the gateway's
// "@base64" path form expects.
std::string Base64Url(const std::string& in) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], kAlphabet[n & 63]};
  }
  if (i + 1 == in.size()) {
    uint32_t n = uint8_t(in[i]) << 16;
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    uint32_t n = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += {kAlphabet[n >> 18], kAlphabet[(n >> 12) & 63], kAlphabet[(n >> 6) & 63], '='};
  }
  return out;
}

// "/name/value", or "/name@base64/..." when the value is empty, contains '/'
// or anything else that would need escaping: one encoding that every
// gateway version decodes the same way, instead of percent-escapes that
// proxies may decode early (turning %2F into a path separator).
std::string PathPair(const std::string& name, const std::string& value) {
  bool plain = !value.empty();
  for (unsigned char c : value) plain = plain && Unreserved(c);
  // The gateway reads "." and ".." as path segments.
  if (value == "." || value == "..") plain = false;
  if (plain) return "/" + name + "/" + value;
  // The gateway's documented spelling of the empty value is a lone "=".
  return "/" + name + "@base64/" + (value.empty() ? "=" : Base64Url(value));
}

void CheckGroupingName(const std::string& name) {
  // The data model's label-name rule (one validator), through a probe spec.
  FamilySpec probe;
  probe.name = "pushgateway_grouping";
  probe.label_names = {name};
  try {
    CheckFamilySpec(probe);
  } catch (const InvalidArgument&) {
    throw InvalidArgument("grouping label \"" + name + "\" is not a valid label name");
  }
  if (name == "job") throw InvalidArgument("grouping label \"job\" is given by the job option, not the grouping");
}

}  // namespace

void PushToGateway(Reader& reader, const PushOptions& options) {
  detail::CheckHttpOptions(options);
  if (options.job.empty()) throw InvalidArgument("push needs a job name (the group's job label), got \"\"");
  detail::HttpRequest request;
  request.method = options.method == PushMethod::kPost ? "POST" : "PUT";
  request.path = detail::ParseEndpoint(options.url).path + "/metrics" + PathPair("job", options.job);
  for (const auto& [name, value] : options.grouping) {
    CheckGroupingName(name);
    request.path += PathPair(name, value);
  }
  request.content_type = ContentType(Format::kText);
  request.gzip = options.gzip;
  request.body = reader.Render(Format::kText);
  detail::SendWithRetries(options, request, "push to Pushgateway");
}

}  // namespace promsqlite
