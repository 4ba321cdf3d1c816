// The canonical encoding of a tuple of strings (label values, enum states)
// as one BLOB. Documented in docs/schema.md; it must never change.
//
// Each element: its bytes with every 0x00 written as 0x00 0xFF, then the
// terminator 0x00 0x01. The encoding is unambiguous for any bytes, and
// memcmp order of two encodings is the lexicographic order of the tuples,
// so ORDER BY on the BLOB sorts series the way client_golang does.
#ifndef PROMSQLITE_SRC_BASE_TUPLE_CODEC_H_
#define PROMSQLITE_SRC_BASE_TUPLE_CODEC_H_

#include <string>
#include <string_view>
#include <vector>

namespace promsqlite::detail {

void AppendTupleElement(std::string& out, std::string_view element);
std::string EncodeTuple(const std::vector<std::string>& elements);

// Decodes into `out` (reusing its capacity). Returns false when `blob` is
// not a valid encoding.
bool DecodeTuple(std::string_view blob, std::vector<std::string>* out);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_BASE_TUPLE_CODEC_H_
