// The one table of exposition formats (formats.cc): for each Format its
// name, its Content-Type, the media range that selects it in an Accept
// header, and its renderer. ContentType, FormatName, ParseFormat,
// AllFormats, NegotiateFormat (negotiate.cc) and MakeRenderer read it.
#ifndef PROMSQLITE_SRC_RENDER_FORMATS_H_
#define PROMSQLITE_SRC_RENDER_FORMATS_H_

#include <array>
#include <memory>

#include "model/records.h"
#include "promsqlite/exposition.h"

namespace promsqlite::detail {

struct FormatEntry {
  Format format;
  const char* name;          // FormatName's, ParseFormat's
  const char* content_type;  // of a response in this format
  // The media range that selects it in an Accept header, lowercase.
  const char* type;     // "text"
  const char* subtype;  // "plain"
  // The version parameters we write (a range asking for another one does
  // not select us); nullptr-padded.
  const char* versions[2];
  // When set, a range must carry exactly these proto and encoding
  // parameters, and no wildcard selects the format (it is binary).
  const char* proto;
  const char* encoding;
  std::unique_ptr<SnapshotVisitor> (*make_renderer)(const Sink& sink);
};

// Every format, in the order of the enum: negotiation's preference
// between equal q-values.
using FormatTable = std::array<FormatEntry, 3>;
const FormatTable& Formats();

// The entry of `format` (text's for a value outside the enum).
const FormatEntry& EntryOf(Format format);

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_RENDER_FORMATS_H_
