// The protobuf wire format, by hand (https://protobuf.dev/programming-guides/encoding/):
// varints, zigzag, fixed 64-bit doubles and length-delimited fields. The
// protobuf exposition needs only these, so the core library does not
// depend on libprotobuf.
#ifndef PROMSQLITE_SRC_RENDER_PROTO_WIRE_H_
#define PROMSQLITE_SRC_RENDER_PROTO_WIRE_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace promsqlite::detail::proto {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2 };

inline void AppendVarint(std::string& out, uint64_t v) {
  char buf[10];
  size_t n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out.append(buf, n);
}

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Pointer versions for the hot path, into space already reserved; each
// returns the position after what it wrote.
inline char* WriteVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// A length-delimited field with a one-byte tag (field < 16).
inline char* WriteBytes(char* p, uint32_t field, std::string_view bytes) {
  *p++ = static_cast<char>((field << 3) | 2);
  p = WriteVarint(p, bytes.size());
  std::memcpy(p, bytes.data(), bytes.size());
  return p + bytes.size();
}

inline uint64_t ZigZag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }

inline void AppendTag(std::string& out, uint32_t field, WireType type) { AppendVarint(out, (field << 3) | type); }

inline void AppendDouble(std::string& out, uint32_t field, double v) {
  AppendTag(out, field, kFixed64);
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  char buf[8];
  for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(bits >> (8 * i));  // little-endian
  out.append(buf, 8);
}

inline void AppendUint(std::string& out, uint32_t field, uint64_t v) {
  AppendTag(out, field, kVarint);
  AppendVarint(out, v);
}

inline void AppendSint(std::string& out, uint32_t field, int64_t v) { AppendUint(out, field, ZigZag(v)); }

// A string, bytes, an embedded message already encoded, or a packed array.
inline void AppendBytes(std::string& out, uint32_t field, std::string_view bytes) {
  AppendTag(out, field, kLengthDelimited);
  AppendVarint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}

// The encoded size of AppendBytes(field < 16, bytes).
inline size_t BytesFieldSize(size_t length) { return 1 + VarintSize(length) + length; }

}  // namespace promsqlite::detail::proto

#endif  // PROMSQLITE_SRC_RENDER_PROTO_WIRE_H_
