#include "gzip_writer.h"

namespace promsqlite_server {

namespace {
constexpr size_t kBufferSize = 16 * 1024;
constexpr int kGzipWindowBits = 15 + 16;  // +16: gzip header and trailer, not zlib's
}  // namespace

GzipWriter::GzipWriter(Output output) : output_(std::move(output)), buffer_(kBufferSize, '\0') {
  // Level 6 (zlib's default) keeps a scrape's CPU cost modest; expositions
  // are repetitive and shrink about tenfold anyway.
  ok_ = deflateInit2(&stream_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, kGzipWindowBits, 8,
                     Z_DEFAULT_STRATEGY) == Z_OK;
}

GzipWriter::~GzipWriter() { deflateEnd(&stream_); }

bool GzipWriter::Write(std::string_view data) { return !data.empty() ? Deflate(data, Z_NO_FLUSH) : ok_; }

bool GzipWriter::Finish() { return Deflate({}, Z_FINISH); }

bool GzipWriter::Deflate(std::string_view data, int flush) {
  if (!ok_) return false;
  stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream_.avail_in = static_cast<uInt>(data.size());
  int rc = Z_OK;
  do {
    stream_.next_out = reinterpret_cast<Bytef*>(&buffer_[0]);
    stream_.avail_out = static_cast<uInt>(buffer_.size());
    rc = deflate(&stream_, flush);
    if (rc == Z_STREAM_ERROR) return ok_ = false;
    size_t produced = buffer_.size() - stream_.avail_out;
    if (produced > 0 && !output_(std::string_view(buffer_.data(), produced))) return ok_ = false;
  } while (stream_.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
  return true;
}

}  // namespace promsqlite_server
