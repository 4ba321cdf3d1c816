// One HTTP request to a push endpoint, with the retries, backoff, timeouts,
// authentication and TLS settings of HttpOptions. Shared by the Pushgateway
// and the remote-write client so both fail the same way.
#ifndef PROMSQLITE_SRC_PUSH_HTTP_H_
#define PROMSQLITE_SRC_PUSH_HTTP_H_

#include <string>
#include <utility>
#include <vector>

#include "promsqlite/push.h"

namespace promsqlite::detail {

// "https://host:9091/prefix/" -> {"https://host:9091", "/prefix"}.
struct Endpoint {
  std::string scheme_host_port;
  std::string path;  // without a trailing '/'; "" for the root
};

// Throws InvalidArgument for anything but http(s)://host[:port][/path].
Endpoint ParseEndpoint(const std::string& url);

struct HttpRequest {
  const char* method = "PUT";  // PUT or POST
  std::string path;            // already escaped
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string body;
  bool gzip = false;  // compress the body, Content-Encoding: gzip
};

// Sends `request` until a 2xx answer (returned: its body) or a failure that
// retrying cannot fix, at most 1 + options.retries times. Throws PushError;
// `what` names the operation in its message ("push to Pushgateway").
std::string SendWithRetries(const HttpOptions& options, const HttpRequest& request, const char* what);

// Checks the options every endpoint needs; throws InvalidArgument.
void CheckHttpOptions(const HttpOptions& options);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_PUSH_HTTP_H_
