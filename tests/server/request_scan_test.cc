// RequestScanner (server/request_scan.h): where a request ends in the bytes
// a connection has received, as httplib 0.11 will read it.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <string>

#include "request_scan.h"

using promsqlite_server::RequestScan;
using promsqlite_server::RequestScanner;

namespace {

constexpr size_t kMaxBody = 64 * 1024;

RequestScan ScanAll(const std::string& bytes) {
  RequestScanner scanner(kMaxBody);
  return scanner.Scan(bytes);
}

// The same bytes arriving one at a time: the first result that is not
// kNeedMore, or kNeedMore once all have come.
RequestScan ScanByteByByte(const std::string& bytes) {
  RequestScanner scanner(kMaxBody);
  RequestScan scan;
  for (size_t n = 1; n <= bytes.size(); ++n) {
    scan = scanner.Scan(std::string_view(bytes).substr(0, n));
    if (scan.result != RequestScan::kNeedMore) break;
  }
  return scan;
}

void CheckComplete(const std::string& bytes, size_t length) {
  CAPTURE(bytes);
  for (const RequestScan& scan : {ScanAll(bytes), ScanByteByByte(bytes)}) {
    CHECK(scan.result == RequestScan::kComplete);
    CHECK(scan.length == length);
  }
}

void CheckNeedsMore(const std::string& bytes) {
  CAPTURE(bytes);
  CHECK(ScanAll(bytes).result == RequestScan::kNeedMore);
  CHECK(ScanByteByByte(bytes).result == RequestScan::kNeedMore);
}

void CheckMalformed(const std::string& bytes) {
  CAPTURE(bytes);
  CHECK(ScanAll(bytes).result == RequestScan::kMalformed);
  CHECK(ScanByteByByte(bytes).result == RequestScan::kMalformed);
}

}  // namespace

TEST_CASE("a GET ends with its empty line; a pipelined request after it is not part of it") {
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n";
  CheckComplete(get, get.size());
  CheckComplete(get + "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n", get.size());
  CheckComplete("GET / HTTP/1.0\r\n\r\n", 18);
}

TEST_CASE("a request without its empty line needs more, however long its headers") {
  CheckNeedsMore("GET /metrics HTTP/1.1\r\nHost: x\r\n");
  CheckNeedsMore("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaa");
  CheckNeedsMore("GET /metrics HTTP/1.1");
  std::string many = "GET /metrics HTTP/1.1\r\n";
  for (int i = 0; i < 1000; ++i) many += "a:b\r\n";
  CheckNeedsMore(many);
}

TEST_CASE("lines ending in a bare LF neither end the head nor count, as httplib skips them") {
  CheckNeedsMore("GET /metrics HTTP/1.1\r\nHost: x\n\n");
  const std::string request = "GET /metrics HTTP/1.1\r\nX: y\n\n\r\n";
  CheckComplete(request, request.size());
}

TEST_CASE("a request line httplib cannot parse is malformed as soon as it is complete") {
  CheckMalformed("GARBAGE\r\n\r\n");
  CheckMalformed("\r\n\r\n\r\n");                                // a blank request line
  CheckMalformed("GET /metrics\r\n\r\n");                        // no version
  CheckMalformed("GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n");    // an unknown version
  CheckMalformed("FOO /metrics HTTP/1.1\r\nHost: x\r\n\r\n");    // an unknown method
  CheckMalformed("get /metrics HTTP/1.1\r\nHost: x\r\n\r\n");    // methods are case-sensitive
  CheckMalformed("GET /metrics HTTP/1.1\nHost: x\n\n");          // a bare LF
  CheckMalformed(std::string("GET /met\0rics HTTP/1.1\r\n", 24));  // httplib reads it up to the NUL
  CheckMalformed("GET /a b HTTP/1.1\r\n\r\n");                   // four words
  // Its length is the request line's; the rest is never looked at.
  RequestScan scan = ScanAll("GARBAGE\r\nmore");
  CHECK(scan.result == RequestScan::kMalformed);
  CHECK(scan.length == 9);
  // Nothing is judged before the line ends: a TLS ClientHello has none.
  CheckNeedsMore(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
}

TEST_CASE("the bodies httplib reads are part of the request; others are not waited for") {
  const std::string post = "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n";
  CheckNeedsMore(post);
  CheckNeedsMore(post + "x=");
  CheckComplete(post + "x=1", post.size() + 3);
  CheckComplete(post + "x=1GET / HTTP/1.1\r\n\r\n", post.size() + 3);
  const std::string lower = "PUT / HTTP/1.1\r\ncontent-length:\t2 \r\n\r\n";
  CheckComplete(lower + "ab", lower.size() + 2);
  // httplib reads no body of a GET or HEAD: the handlers refuse one unread.
  const std::string get = "GET /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
  CheckComplete(get + "hello", get.size());
  // Nor one it would not read promptly, or that the handlers refuse first.
  for (const std::string& head : {
           std::string("POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n"),             // above the limit
           std::string("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),  // two
           std::string("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nContent-Length: 99999999999999\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
           std::string("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),  // waits for 100
       })
    CheckComplete(head, head.size());
  const std::string at_limit = "POST / HTTP/1.1\r\nContent-Length: 65536\r\n\r\n";
  CheckNeedsMore(at_limit + std::string(65535, 'x'));
  CheckComplete(at_limit + std::string(65536, 'x'), at_limit.size() + 65536);
}

TEST_CASE("after Reset the scanner reads the next request from its own start") {
  RequestScanner scanner(kMaxBody);
  const std::string first = "GET / HTTP/1.1\r\n\r\n";
  CHECK(scanner.Scan(first).length == first.size());
  scanner.Reset();
  const std::string second = "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nz";
  CHECK(scanner.Scan(second.substr(0, second.size() - 1)).result == RequestScan::kNeedMore);
  RequestScan scan = scanner.Scan(second);
  CHECK(scan.result == RequestScan::kComplete);
  CHECK(scan.length == second.size());
}
