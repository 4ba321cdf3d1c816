#include "handlers.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gzip_writer.h"
#include "landing_page.h"
#include "log.h"
#include "promsqlite/exposition.h"

namespace promsqlite_server {

namespace {

constexpr const char* kPlainText = "text/plain; charset=utf-8";
constexpr const char* kAllow = "GET, HEAD";
// httplib bounds each header line (8 KiB) but not their number.
constexpr size_t kMaxHeaderBytes = 64 * 1024;
constexpr size_t kMaxHeaderCount = 100;
// Bodies httplib may read (and discard): set_payload_max_length in server.cc.
constexpr size_t kMaxBodyBytes = 64 * 1024;

// The body of a 406: the Content-Types /metrics is served in.
std::string NotAcceptable() {
  std::string text = "Not Acceptable: /metrics is served as ";
  const std::vector<promsqlite::Format>& formats = promsqlite::AllFormats();
  for (size_t i = 0; i < formats.size(); ++i)
    text += std::string(i == 0 ? "" : i + 1 == formats.size() ? " or " : ", ") + promsqlite::ContentType(formats[i]);
  return text + "\n";
}

bool IsKnownPath(const std::string& path) {
  return path == "/metrics" || path == "/" || path == "/-/healthy" || path == "/-/ready";
}

// All values of a header, comma-joined as RFC 9110 allows for lists.
std::string JoinedHeader(const httplib::Request& req, const char* name) {
  std::string out;
  auto range = req.headers.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) {
    if (!out.empty()) out += ", ";
    out += it->second;
  }
  return out;
}

// httplib 0.11 compresses text/* responses itself, choosing br or gzip by a
// substring search of Accept-Encoding that ignores q-values ("gzip;q=0"
// would still get gzip). Negotiation is ours: remove the header so httplib
// never compresses, and hand its value to the caller. The Request object is
// httplib's own non-const local, so the cast is well-defined.
std::string TakeAcceptEncoding(const httplib::Request& req) {
  std::string value = JoinedHeader(req, "Accept-Encoding");
  const_cast<httplib::Request&>(req).headers.erase("Accept-Encoding");
  return value;
}

// Makes httplib answer "Connection: close" instead of keep-alive, and
// GuardedServer end the connection after the response: after a framing
// error, what follows on the connection cannot be trusted to be a request.
// (httplib 0.11 looks at the request's header only.)
void CloseAfterResponse(const httplib::Request& req) {
  auto& headers = const_cast<httplib::Request&>(req).headers;
  headers.erase("Connection");
  headers.emplace("Connection", "close");
}

void SetPlain(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, kPlainText);
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Counts a scrape once its response is fully sent or abandoned.
class ScrapeRecord {
 public:
  explicit ScrapeRecord(SelfMetrics* metrics) : metrics_(metrics) {}
  ScrapeRecord(const ScrapeRecord&) = delete;
  ScrapeRecord& operator=(const ScrapeRecord&) = delete;
  ~ScrapeRecord() { metrics_->RecordScrape(SecondsSince(start_), failed_); }
  void Fail() { failed_ = true; }

 private:
  SelfMetrics* metrics_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  bool failed_ = false;
};

// One scrape: the pooled Reader and its rendering, which is destroyed first
// (it holds the Reader), on the request's thread, when the response is done.
struct Scrape {
  std::optional<ReaderPool::Lease> reader;
  std::unique_ptr<promsqlite::Reader::Rendering> rendering;
  std::string first;  // the first chunk, taken before the status is chosen
  bool has_first = false;
};

void ServeMetrics(ServerContext* ctx, const httplib::Request& req, httplib::Response& res) {
  auto record = std::make_shared<ScrapeRecord>(ctx->metrics);
  const std::string accept_encoding = TakeAcceptEncoding(req);
  res.set_header("Vary", "Accept, Accept-Encoding");
  const std::optional<promsqlite::Format> format = promsqlite::NegotiateFormat(JoinedHeader(req, "Accept"));
  if (!format) {
    SetPlain(res, 406, NotAcceptable());
    return;
  }
  const bool gzip = promsqlite::AcceptsGzip(accept_encoding);

  auto fail = [&](const std::string& error) {
    record->Fail();
    Log(LogLevel::kError, "scrape failed", {{"err", error}});
    SetPlain(res, 500, "error reading the promsqlite file: " + error + "\n");
  };
  // The rendering is pulled chunk by chunk by the body's provider, on this
  // request's thread: no thread or queue of its own. Its first chunk is
  // taken now, so that a file failing before any output answers 500 with
  // the error rather than a truncated 200.
  auto scrape = std::make_shared<Scrape>();
  try {
    promsqlite::Reader& reader = *scrape->reader.emplace(ctx->readers->Acquire());
    // The counts for our own metrics come from just before the snapshot:
    // the Reader API offers them only as a separate call.
    promsqlite::FileStats stats = reader.Stats();
    // Made once the file is read: they report the rows it left out.
    SelfMetrics* metrics = ctx->metrics;
    scrape->rendering = reader.StartRender(*format, [metrics, stats](const promsqlite::SkippedRows& skipped) {
      metrics->read_errors().Record(skipped, UnixNow());
      return metrics->Families(stats, &skipped);
    });
    scrape->has_first = scrape->rendering->Next(&scrape->first);
  } catch (const std::exception& e) {
    fail(e.what());
    return;
  }

  res.status = 200;
  if (gzip) res.set_header("Content-Encoding", "gzip");
  auto provide = [scrape, record, gzip](size_t /*offset*/, httplib::DataSink& sink) {
    // Called once: writes the whole body, so the server's shutdown,
    // which httplib checks between calls, never truncates a scrape.
    auto write = [&sink](std::string_view data) { return sink.write(data.data(), data.size()); };
    std::unique_ptr<GzipWriter> gz;
    if (gzip) gz = std::make_unique<GzipWriter>(write);
    std::string chunk = std::move(scrape->first);
    try {
      for (bool more = scrape->has_first; more; more = scrape->rendering->Next(&chunk)) {
        if (!(gz ? gz->Write(chunk) : write(chunk))) {
          Log(LogLevel::kDebug, "client went away during a scrape");
          return false;
        }
      }
    } catch (const std::exception& e) {
      // Too late for a 500: ending without the last chunk makes the
      // client see a broken response rather than a short exposition.
      record->Fail();
      Log(LogLevel::kError, "scrape failed after the response started", {{"err", e.what()}});
      return false;
    }
    scrape->rendering.reset();  // ends the read snapshot, frees the Reader
    if (gz && !gz->Finish()) return false;
    sink.done();
    return true;
  };
  if (req.version == "HTTP/1.0") {
    // HTTP/1.0 has no chunked encoding (RFC 9112 6.1): the body ends with
    // the connection (so a render failing part way looks like a short body).
    CloseAfterResponse(req);
    res.set_content_provider(promsqlite::ContentType(*format), provide);
  } else {
    res.set_chunked_content_provider(promsqlite::ContentType(*format), provide);
  }
}

void ServeLandingPage(ServerContext* ctx, const httplib::Request& req, httplib::Response& res) {
  TakeAcceptEncoding(req);
  promsqlite::FileStats stats;
  std::string error;
  try {
    stats = ctx->readers->Acquire()->Stats();
  } catch (const std::exception& e) {
    error = e.what();
  }
  double scraped = 0;
  const promsqlite::SkippedRows skipped = ctx->metrics->read_errors().Last(&scraped);
  res.set_content(LandingPage(ctx->readers->path(), stats, error, skipped, scraped), "text/html; charset=utf-8");
}

void ServeReady(ServerContext* ctx, const httplib::Request& req, httplib::Response& res) {
  TakeAcceptEncoding(req);
  try {
    ctx->readers->Acquire()->Stats();
  } catch (const std::exception& e) {
    SetPlain(res, 503, std::string("promsqlite-server is not ready: ") + e.what() + "\n");
    return;
  }
  SetPlain(res, 200, "promsqlite-server is Ready.\n");
}

httplib::Server::HandlerResponse PreRouting(ServerContext* ctx, const httplib::Request& req,
                                            httplib::Response& res) {
  size_t bytes = 0;
  for (const auto& [key, value] : req.headers) bytes += key.size() + value.size() + 4;
  if (bytes > kMaxHeaderBytes || req.headers.size() > kMaxHeaderCount) {
    TakeAcceptEncoding(req);
    CloseAfterResponse(req);
    SetPlain(res, 431, "Request Header Fields Too Large\n");
    return httplib::Server::HandlerResponse::Handled;
  }
  // Bodies: nothing here takes one. httplib 0.11 reads none for GET, HEAD
  // and the like, so one sent anyway would be read as the next request
  // (smuggling); it reads a chunked one, or one without a length, until the
  // peer closes, without limit; and it waits for all of a long one only to
  // discard it. A body it would not read promptly is refused at once, and
  // the connection closed.
  const bool body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                           req.method == "DELETE" || req.method == "PRI";
  const bool chunked = req.has_header("Transfer-Encoding");
  const std::string length = req.get_header_value("Content-Length");
  const bool has_length = req.has_header("Content-Length");
  const bool valid_length = req.get_header_value_count("Content-Length") == 1 && !length.empty() &&
                            length.size() <= 9 && length.find_first_not_of("0123456789") == std::string::npos;
  if (!body_method && (chunked || (has_length && length != "0"))) {
    TakeAcceptEncoding(req);
    CloseAfterResponse(req);
    SetPlain(res, 400, "Bad Request: this request takes no body\n");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (ctx->auth->enabled()) {
    std::string authorization = req.get_header_value("Authorization");
    if (!ctx->auth->Check(authorization)) {
      if (!authorization.empty())
        Log(LogLevel::kWarn, "wrong basic auth credentials", {{"remote", req.remote_addr}, {"path", req.path}});
      TakeAcceptEncoding(req);
      if (chunked || (has_length && length != "0")) CloseAfterResponse(req);  // the body stays unread
      res.set_header("WWW-Authenticate", "Basic realm=\"promsqlite-server\", charset=\"UTF-8\"");
      SetPlain(res, 401, "Unauthorized\n");
      return httplib::Server::HandlerResponse::Handled;
    }
  }
  if (body_method && !chunked && has_length && (!valid_length || std::stoul(length) > kMaxBodyBytes)) {
    TakeAcceptEncoding(req);
    CloseAfterResponse(req);
    if (valid_length) SetPlain(res, 413, "Payload Too Large\n");
    else SetPlain(res, 400, "Bad Request: invalid Content-Length\n");
    return httplib::Server::HandlerResponse::Handled;  // OnError makes it 405 on our paths
  }
  if (body_method && (!has_length || chunked)) {
    TakeAcceptEncoding(req);
    CloseAfterResponse(req);
    if (IsKnownPath(req.path)) {
      res.set_header("Allow", kAllow);
      SetPlain(res, 405, "Method Not Allowed: use GET or HEAD\n");
    } else {
      SetPlain(res, 404, "404 page not found\n");
    }
    return httplib::Server::HandlerResponse::Handled;
  }
  return httplib::Server::HandlerResponse::Unhandled;
}

// Bodies for the errors httplib itself answers with an empty body.
const char* ErrorText(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 404: return "404 page not found";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Internal Server Error" : "Request Error";
  }
}

// Gives every error a body; turns httplib's answer to a known path reached
// with another method (404, or 413/400 for its body) into 405.
httplib::Server::HandlerResponse OnError(const httplib::Request& req, httplib::Response& res) {
  TakeAcceptEncoding(req);
  // Unparsable, or a body left unread: the connection is out of step.
  if (res.status == 400 || res.status == 413 || res.status == 414) CloseAfterResponse(req);
  const bool method_error = res.status == 404 || res.status == 413 || res.status == 400;
  if (method_error && IsKnownPath(req.path) && !req.method.empty() && req.method != "GET" &&
      req.method != "HEAD") {
    res.set_header("Allow", kAllow);
    SetPlain(res, 405, "Method Not Allowed: use GET or HEAD\n");
    return httplib::Server::HandlerResponse::Handled;
  }
  if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
  SetPlain(res, res.status, std::string(ErrorText(res.status)) + "\n");
  return httplib::Server::HandlerResponse::Handled;
}

}  // namespace

void InstallHandlers(httplib::Server& server, ServerContext* ctx) {
  server.set_pre_routing_handler(
      [ctx](const httplib::Request& req, httplib::Response& res) { return PreRouting(ctx, req, res); });
  server.Get("/metrics", [ctx](const httplib::Request& req, httplib::Response& res) {
    ServeMetrics(ctx, req, res);
  });
  server.Get("/", [ctx](const httplib::Request& req, httplib::Response& res) {
    ServeLandingPage(ctx, req, res);
  });
  server.Get("/-/healthy", [](const httplib::Request& req, httplib::Response& res) {
    TakeAcceptEncoding(req);
    SetPlain(res, 200, "promsqlite-server is Healthy.\n");
  });
  server.Get("/-/ready", [ctx](const httplib::Request& req, httplib::Response& res) {
    ServeReady(ctx, req, res);
  });
  server.set_error_handler(httplib::Server::HandlerWithResponse(OnError));
  server.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    // httplib would otherwise echo the exception in a response header.
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Log(LogLevel::kError, "request failed", {{"path", req.path}, {"err", what}});
    TakeAcceptEncoding(req);
    SetPlain(res, 500, "Internal Server Error\n");
  });
  server.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    if (!LogEnabled(LogLevel::kDebug)) return;
    Log(LogLevel::kDebug, "request",
        {{"method", req.method}, {"path", req.path}, {"status", std::to_string(res.status)},
         {"remote", req.remote_addr}});
  });
}

}  // namespace promsqlite_server
