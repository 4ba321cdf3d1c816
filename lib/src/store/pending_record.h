// The payload of a region's kRecord (store/pending_region.h): one update
// that was to be written at once but could not get the write lock within
// Options::update_lock_wait_ms, kept so that a SIGKILL of its process
// meanwhile loses nothing (docs/pending-regions.md, "Records").
//
// Little-endian fixed-width fields, in this order: kind (u8: 0 add, 1 set,
// 2 observe), value (f64), count (i64), bucket deltas (u32 n, n x i64),
// native schema (i32), native zero (i64), positive and negative native
// buckets (each u32 n, n x (i32 index, i64 count)), exemplars (u32 n, each
// i32 bucket, f64 value, f64 timestamp, u32 length, labels' tuple bytes).
// The series is the record's key (family name, labels); the family's
// declaration says whether it is per-process and how its native buckets
// are laid out.
//
// Thread safety: pure functions. Cost: a copy of the update's fields.
#ifndef PROMSQLITE_SRC_STORE_PENDING_RECORD_H_
#define PROMSQLITE_SRC_STORE_PENDING_RECORD_H_

#include <string>
#include <string_view>

#include "promsqlite/family.h"
#include "store/store.h"

namespace promsqlite::detail {

// `update`'s fields except its series.
std::string EncodeKeptUpdate(const BatchUpdate& update);
// Fills `update`'s fields except its series; false for a malformed payload.
bool DecodeKeptUpdate(std::string_view payload, BatchUpdate* update);

// The payload of a kDeclaration: the family's row as the families table
// would hold it (store/schema.h EncodeFamily), as a tuple of its fields'
// texts, numbers in C's %a notation (exact).
std::string EncodeKeptDeclaration(const FamilySpec& spec);
// The declaration; false with `problem` for a malformed payload.
bool DecodeKeptDeclaration(std::string_view payload, FamilySpec* spec, std::string* problem);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_STORE_PENDING_RECORD_H_
