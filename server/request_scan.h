// Where one HTTP/1.x request ends in the bytes a connection has received,
// judged the way httplib 0.11's parser will read them, so that the
// connection front hands a render thread only a request it can parse
// without waiting for the client.
//
// Thread safety: none; one per connection. Cost: each byte is looked at
// once, however many calls the request takes to arrive.
#ifndef PROMSQLITE_SERVER_REQUEST_SCAN_H_
#define PROMSQLITE_SERVER_REQUEST_SCAN_H_

#include <cstddef>
#include <string_view>

namespace promsqlite_server {

struct RequestScan {
  enum Result {
    kNeedMore,   // no complete request yet
    kComplete,   // `length` bytes hold a request line, headers and body
    kMalformed,  // the request line cannot be parsed: httplib answers 400
  };
  Result result = kNeedMore;
  size_t length = 0;  // bytes of the request (kComplete, kMalformed: its first line)
};

// A request's head ends with an empty line "\r\n" (httplib skips lines that
// end in a bare "\n", so they neither end the head nor count as headers).
// A body is part of the request only where httplib reads one: a POST, PUT,
// PATCH, DELETE or PRI with one Content-Length of at most `max_body`
// bytes, no Transfer-Encoding and no "Expect: 100-continue"; every other
// body is refused unread by the handlers (server/handlers.cc), which then
// close the connection.
class RequestScanner {
 public:
  explicit RequestScanner(size_t max_body) : max_body_(max_body) {}

  // The request begins at bytes[0]. Until Reset(), each call's `bytes` must
  // begin with the previous call's (the buffer only grew): the scan goes on
  // where it stopped.
  RequestScan Scan(std::string_view bytes);
  // For the next request.
  void Reset();

 private:
  size_t max_body_;
  size_t pos_ = 0;           // where the next line begins
  bool in_headers_ = false;  // the request line was valid
  bool reads_body_ = false;  // its method is one whose body httplib reads
  int content_lengths_ = 0;
  size_t body_ = 0;  // the Content-Length, when valid and within max_body
  bool body_valid_ = false;
  bool transfer_encoding_ = false;
  bool expect_continue_ = false;
  size_t head_end_ = 0;  // after the empty line; 0 until it came
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_REQUEST_SCAN_H_
