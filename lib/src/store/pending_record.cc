#include "store/pending_record.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/tuple_codec.h"
#include "store/schema.h"
#include "store/sql_rows.h"

namespace promsqlite::detail {
namespace {

// x86-64 and aarch64 Linux are little-endian, and a region never leaves
// its host: fields are copied as they are in memory.
template <typename T>
void Put(std::string* out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out->append(bytes, sizeof(T));
}

class Cursor {
 public:
  explicit Cursor(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T* value) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    if (in_.size() < n) return false;
    out->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  // A count of `item_bytes`-byte items that the rest can hold.
  bool Count(size_t item_bytes, uint32_t* n) { return Get(n) && static_cast<size_t>(*n) * item_bytes <= in_.size(); }
  bool done() const { return in_.empty(); }

 private:
  std::string_view in_;
};

void PutBuckets(std::string* out, const std::vector<std::pair<int32_t, int64_t>>& buckets) {
  Put<uint32_t>(out, static_cast<uint32_t>(buckets.size()));
  for (const auto& [index, count] : buckets) {
    Put<int32_t>(out, index);
    Put<int64_t>(out, count);
  }
}

bool GetBuckets(Cursor* in, std::vector<std::pair<int32_t, int64_t>>* buckets) {
  uint32_t n = 0;
  if (!in->Count(12, &n)) return false;
  buckets->resize(n);
  for (auto& [index, count] : *buckets)
    if (!in->Get(&index) || !in->Get(&count)) return false;
  return true;
}

}  // namespace

std::string EncodeKeptUpdate(const BatchUpdate& u) {
  std::string out;
  Put<uint8_t>(&out, static_cast<uint8_t>(u.kind));
  Put<double>(&out, u.value);
  Put<int64_t>(&out, u.count);
  Put<uint32_t>(&out, static_cast<uint32_t>(u.bucket_deltas.size()));
  for (int64_t delta : u.bucket_deltas) Put<int64_t>(&out, delta);
  Put<int32_t>(&out, u.native.schema);
  Put<int64_t>(&out, u.native.zero);
  PutBuckets(&out, u.native.positive);
  PutBuckets(&out, u.native.negative);
  Put<uint32_t>(&out, static_cast<uint32_t>(u.exemplars.size()));
  for (const ExemplarWrite& e : u.exemplars) {
    Put<int32_t>(&out, e.bucket);
    Put<double>(&out, e.value);
    Put<double>(&out, e.timestamp);
    Put<uint32_t>(&out, static_cast<uint32_t>(e.labels.size()));
    out.append(e.labels);
  }
  return out;
}

bool DecodeKeptUpdate(std::string_view payload, BatchUpdate* u) {
  Cursor in(payload);
  uint8_t kind = 0;
  uint32_t n = 0;
  if (!in.Get(&kind) || kind > BatchUpdate::kObserve) return false;
  u->kind = static_cast<BatchUpdate::Kind>(kind);
  if (!in.Get(&u->value) || !in.Get(&u->count) || !in.Count(8, &n)) return false;
  u->bucket_deltas.resize(n);
  for (int64_t& delta : u->bucket_deltas)
    if (!in.Get(&delta)) return false;
  int32_t schema = 0;
  if (!in.Get(&schema) || !in.Get(&u->native.zero)) return false;
  u->native.schema = schema;
  if (!GetBuckets(&in, &u->native.positive) || !GetBuckets(&in, &u->native.negative)) return false;
  if (!in.Count(24, &n)) return false;
  u->exemplars.resize(n);
  for (ExemplarWrite& e : u->exemplars) {
    uint32_t length = 0;
    if (!in.Get(&e.bucket) || !in.Get(&e.value) || !in.Get(&e.timestamp) || !in.Get(&length) ||
        !in.Bytes(length, &e.labels))
      return false;
  }
  return in.done();
}

namespace {

std::string Exact(double d) {
  char text[64];
  std::snprintf(text, sizeof text, "%a", d);
  return text;
}

bool ParseExact(const std::string& text, double* d) {
  char* end = nullptr;
  *d = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

}  // namespace

std::string EncodeKeptDeclaration(const FamilySpec& spec) {
  const FamilyRow row = EncodeFamily(spec);
  return EncodeTuple({row.name, row.type, row.help, row.unit, row.label_names, row.buckets, row.states,
                      row.gauge_mode, Exact(row.ttl_seconds),
                      row.native_schema ? std::to_string(*row.native_schema) : std::string(),
                      Exact(row.native_zero_threshold), std::to_string(row.native_max_buckets)});
}

bool DecodeKeptDeclaration(std::string_view payload, FamilySpec* spec, std::string* problem) {
  std::vector<std::string> f;
  FamilyRow row;
  double max_buckets = 0;
  if (!DecodeTuple(payload, &f) || f.size() != 12 || !ParseExact(f[8], &row.ttl_seconds) ||
      !ParseExact(f[10], &row.native_zero_threshold) || !ParseExact(f[11], &max_buckets)) {
    *problem = "malformed kept declaration";
    return false;
  }
  row.name = f[0];
  row.type = f[1];
  row.help = f[2];
  row.unit = f[3];
  row.label_names = f[4];
  row.buckets = f[5];
  row.states = f[6];
  row.gauge_mode = f[7];
  if (!f[9].empty()) row.native_schema = std::strtoll(f[9].c_str(), nullptr, 10);
  row.native_max_buckets = static_cast<int64_t>(max_buckets);
  *spec = DecodeFamily(row, problem);
  return problem->empty();
}

}  // namespace promsqlite::detail
