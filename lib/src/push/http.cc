#include "push/http.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>
#include <thread>

namespace promsqlite::detail {
namespace {

// 4xx answers mean "this request is wrong"; sending it again cannot help.
// 429 (too many requests) and 5xx are the peer's temporary trouble.
bool Retryable(int status) { return status == 0 || status == 429 || status >= 500; }

// The peer's explanation, on one line and bounded: a gateway may answer with
// a long multi-line text, and our caller prints one line.
std::string OneLine(const std::string& body) {
  std::string out;
  for (char c : body) {
    if (out.size() >= 500) {
      out += "...";
      break;
    }
    out += (c == '\n' || c == '\r') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// httplib's error names ("Read") are terse; say what happened.
std::string Describe(httplib::Error error, double timeout_seconds) {
  std::string seconds = std::to_string(timeout_seconds);
  seconds.erase(seconds.find_last_not_of('0') + 1);
  if (!seconds.empty() && seconds.back() == '.') seconds.pop_back();
  switch (error) {
    case httplib::Error::Connection: return "cannot connect (refused or unreachable)";
    case httplib::Error::ConnectionTimeout: return "no connection within the " + seconds + " s timeout";
    case httplib::Error::Read: return "no answer within the " + seconds + " s timeout, or the connection was closed";
    case httplib::Error::Write: return "sending failed (timeout or connection closed)";
    case httplib::Error::SSLConnection: return "TLS handshake failed";
    case httplib::Error::SSLLoadingCerts: return "cannot load the CA certificates";
    case httplib::Error::SSLServerVerification: return "the server's TLS certificate is not trusted";
    default: return httplib::to_string(error);
  }
}

void SetTimeouts(httplib::Client& client, double seconds) {
  auto sec = static_cast<time_t>(seconds);
  auto usec = static_cast<time_t>((seconds - static_cast<double>(sec)) * 1e6);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
}

}  // namespace

Endpoint ParseEndpoint(const std::string& url) {
  size_t scheme_end = url.find("://");
  std::string scheme = scheme_end == std::string::npos ? "" : url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https")
    throw InvalidArgument("push URL \"" + url + "\" must start with http:// or https://");
  size_t host_start = scheme_end + 3;
  size_t path_start = url.find('/', host_start);
  if (path_start == std::string::npos) path_start = url.size();
  if (path_start == host_start) throw InvalidArgument("push URL \"" + url + "\" has no host");
  if (url.find_first_of("?#", host_start) != std::string::npos)
    throw InvalidArgument("push URL \"" + url + "\" must not have a query or fragment");
  Endpoint endpoint{url.substr(0, path_start), url.substr(path_start)};
  while (!endpoint.path.empty() && endpoint.path.back() == '/') endpoint.path.pop_back();
  return endpoint;
}

void CheckHttpOptions(const HttpOptions& options) {
  ParseEndpoint(options.url);
  if (!(options.timeout_seconds > 0) || !std::isfinite(options.timeout_seconds))
    throw InvalidArgument("push timeout must be a positive number of seconds");
  if (options.retries < 0 || options.retries > 100)
    throw InvalidArgument("push retries must be between 0 and 100, got " + std::to_string(options.retries));
  if (!(options.initial_backoff_seconds >= 0) || !(options.max_backoff_seconds >= 0) ||
      !std::isfinite(options.max_backoff_seconds))
    throw InvalidArgument("push backoff must be a finite number of seconds >= 0");
  if (!options.bearer_token.empty() && !options.basic_auth_user.empty())
    throw InvalidArgument("push: set either basic authentication or a bearer token, not both");
}

}  // namespace promsqlite::detail

namespace promsqlite {

std::string ReadSecretFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InvalidArgument("cannot read \"" + path + "\"");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string secret = buffer.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
  if (secret.empty()) throw InvalidArgument("\"" + path + "\" is empty");
  return secret;
}

}  // namespace promsqlite

namespace promsqlite::detail {

std::string SendWithRetries(const HttpOptions& options, const HttpRequest& request, const char* what) {
  CheckHttpOptions(options);
  Endpoint endpoint = ParseEndpoint(options.url);
  httplib::Client client(endpoint.scheme_host_port);
  SetTimeouts(client, options.timeout_seconds);
  // Our paths are escaped already (the @base64 forms); encoding them again
  // would corrupt '%' escapes.
  client.set_url_encode(false);
  client.set_keep_alive(false);
  if (!options.basic_auth_user.empty())
    client.set_basic_auth(options.basic_auth_user, options.basic_auth_password);
  if (!options.bearer_token.empty()) client.set_bearer_token_auth(options.bearer_token);
  if (!options.ca_file.empty()) client.set_ca_cert_path(options.ca_file);
  client.enable_server_certificate_verification(true);
  client.set_compress(request.gzip);

  httplib::Headers headers;
  for (const auto& [name, value] : request.headers) headers.emplace(name, value);
  const std::string where = endpoint.scheme_host_port + request.path;

  double backoff = options.initial_backoff_seconds;
  for (int attempt = 0;; ++attempt) {
    httplib::Result result = std::string(request.method) == "POST"
                                 ? client.Post(request.path, headers, request.body, request.content_type)
                                 : client.Put(request.path, headers, request.body, request.content_type);
    int status = result ? result->status : 0;
    if (status >= 200 && status < 300) return result->body;

    std::string peer = result ? OneLine(result->body) : "";
    std::string failure = result ? "HTTP " + std::to_string(status) + (peer.empty() ? "" : ": " + peer)
                                 : Describe(result.error(), options.timeout_seconds);
    bool last = attempt >= options.retries;
    if (!Retryable(status) || last) {
      std::string tries = attempt == 0 ? "" : " (after " + std::to_string(attempt + 1) + " attempts)";
      throw PushError(std::string(what) + " " + where + " failed" + tries + ": " + failure, status, peer);
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(std::min(backoff, options.max_backoff_seconds)));
    backoff = std::min(backoff * 2, options.max_backoff_seconds);
  }
}

}  // namespace promsqlite::detail
