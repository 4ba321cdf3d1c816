#include "base/tuple_codec.h"

namespace promsqlite::detail {

void AppendTupleElement(std::string& out, std::string_view element) {
  for (char c : element) {
    out += c;
    if (c == '\0') out += '\xFF';
  }
  out += '\0';
  out += '\x01';
}

std::string EncodeTuple(const std::vector<std::string>& elements) {
  std::string out;
  for (const std::string& e : elements) AppendTupleElement(out, e);
  return out;
}

bool DecodeTuple(std::string_view blob, std::vector<std::string>* out) {
  size_t count = 0;
  std::string* current = nullptr;
  for (size_t i = 0; i < blob.size(); ++i) {
    if (current == nullptr) {
      if (count == out->size()) out->emplace_back();
      current = &(*out)[count++];
      current->clear();
    }
    char c = blob[i];
    if (c != '\0') { *current += c; continue; }
    if (i + 1 >= blob.size()) return false;
    char next = blob[++i];
    if (next == '\xFF') *current += '\0';
    else if (next == '\x01') current = nullptr;
    else return false;
  }
  if (current != nullptr) return false;  // element without terminator
  out->resize(count);
  return true;
}

}  // namespace promsqlite::detail
