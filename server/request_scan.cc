#include "request_scan.h"

namespace promsqlite_server {

namespace {

bool IsSpaceOrTab(char c) { return c == ' ' || c == '\t'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpaceOrTab(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpaceOrTab(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// As httplib's Server::parse_request_line: "METHOD TARGET VERSION\r\n",
// split at spaces (pieces trimmed, empty ones skipped), a method it knows
// and HTTP/1.0 or HTTP/1.1. It reads the line with strlen: a NUL ends it.
bool ValidRequestLine(std::string_view line, std::string_view* method) {
  if (line.size() < 2 || line[line.size() - 2] != '\r') return false;
  line.remove_suffix(2);
  if (line.find('\0') != std::string_view::npos) return false;
  std::string_view parts[3];
  int count = 0;
  size_t begin = 0;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size() && line[i] != ' ') continue;
    std::string_view piece = Trim(line.substr(begin, i - begin));
    if (!piece.empty()) {
      if (count < 3) parts[count] = piece;
      ++count;
    }
    begin = i + 1;
  }
  if (count != 3) return false;
  static constexpr std::string_view kMethods[] = {"GET",     "HEAD",    "POST",  "PUT",   "DELETE",
                                                  "CONNECT", "OPTIONS", "TRACE", "PATCH", "PRI"};
  bool known = false;
  for (std::string_view m : kMethods) known = known || parts[0] == m;
  *method = parts[0];
  return known && (parts[2] == "HTTP/1.1" || parts[2] == "HTTP/1.0");
}

// The methods whose body httplib reads (its detail::expect_content).
bool ReadsBody(std::string_view method) {
  return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE" || method == "PRI";
}

}  // namespace

void RequestScanner::Reset() { *this = RequestScanner(max_body_); }

RequestScan RequestScanner::Scan(std::string_view bytes) {
  RequestScan scan;
  if (!in_headers_) {
    size_t end = bytes.find('\n');
    if (end == std::string_view::npos) return scan;
    std::string_view method;
    if (!ValidRequestLine(bytes.substr(0, end + 1), &method)) {
      scan.result = RequestScan::kMalformed;
      scan.length = end + 1;
      return scan;
    }
    in_headers_ = true;
    reads_body_ = ReadsBody(method);
    pos_ = end + 1;
  }
  while (head_end_ == 0) {
    size_t end = bytes.find('\n', pos_);
    if (end == std::string_view::npos) return scan;
    std::string_view line = bytes.substr(pos_, end + 1 - pos_);
    pos_ = end + 1;
    if (line.size() < 2 || line[line.size() - 2] != '\r') continue;  // httplib skips it
    if (line.size() == 2) {                                           // the empty line
      head_end_ = pos_;
      break;
    }
    line.remove_suffix(2);
    while (!line.empty() && IsSpaceOrTab(line.back())) line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && IsSpaceOrTab(value.front())) value.remove_prefix(1);
    if (value.empty()) continue;  // httplib keeps no header without a value
    if (EqualsIgnoringCase(name, "Content-Length")) {
      ++content_lengths_;
      body_valid_ = value.size() <= 9 && value.find_first_not_of("0123456789") == std::string_view::npos;
      body_ = 0;
      if (body_valid_) {
        for (char c : value) body_ = body_ * 10 + static_cast<size_t>(c - '0');
        body_valid_ = body_ <= max_body_;
      }
    } else if (EqualsIgnoringCase(name, "Transfer-Encoding")) {
      transfer_encoding_ = true;
    } else if (EqualsIgnoringCase(name, "Expect") && value == "100-continue") {
      expect_continue_ = true;
    }
  }

  const bool with_body =
      reads_body_ && !transfer_encoding_ && !expect_continue_ && content_lengths_ == 1 && body_valid_;
  const size_t length = head_end_ + (with_body ? body_ : 0);
  if (bytes.size() < length) return scan;
  scan.result = RequestScan::kComplete;
  scan.length = length;
  return scan;
}

}  // namespace promsqlite_server
