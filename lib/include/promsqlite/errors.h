// Exceptions thrown by promsqlite. Every message names the metric, label or
// file concerned and the rule that was broken.
#ifndef PROMSQLITE_ERRORS_H_
#define PROMSQLITE_ERRORS_H_

#include <stdexcept>
#include <string>

namespace promsqlite {

// Base of everything promsqlite throws.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

// A name, label, value or bucket layout that breaks a rule of the data model.
// Nothing was written to the file.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A family was declared differently from what the file already holds
// (type, label names, unit, buckets or states). Nothing was written.
class DeclarationConflict : public Error {
 public:
  using Error::Error;
};

// The file cannot be used: not a promsqlite database, corrupt, written by a
// newer schema, unreadable, disk full... Carries SQLite's message and the path.
class DatabaseError : public Error {
 public:
  using Error::Error;
};

}  // namespace promsqlite

#endif  // PROMSQLITE_ERRORS_H_
