// Streams gzip (RFC 1952) output while its input arrives in chunks, so a
// large exposition is compressed without ever being held whole.
//
// Thread safety: none; one writer per response.
#ifndef PROMSQLITE_SERVER_GZIP_WRITER_H_
#define PROMSQLITE_SERVER_GZIP_WRITER_H_

#include <zlib.h>

#include <functional>
#include <string>
#include <string_view>

namespace promsqlite_server {

class GzipWriter {
 public:
  // Receives compressed bytes; returns false to stop (the peer went away).
  using Output = std::function<bool(std::string_view)>;

  explicit GzipWriter(Output output);
  ~GzipWriter();
  GzipWriter(const GzipWriter&) = delete;
  GzipWriter& operator=(const GzipWriter&) = delete;

  // False when zlib fails or the output refused bytes.
  bool Write(std::string_view data);
  // Flushes the rest and the gzip trailer.
  bool Finish();

 private:
  bool Deflate(std::string_view data, int flush);

  Output output_;
  z_stream stream_{};
  bool ok_ = false;
  std::string buffer_;
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_GZIP_WRITER_H_
