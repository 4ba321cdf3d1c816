// Pieces both renderers share: a chunked output buffer and label sets.
#ifndef PROMSQLITE_SRC_RENDER_OUTPUT_H_
#define PROMSQLITE_SRC_RENDER_OUTPUT_H_

#include <string>
#include <string_view>
#include <vector>

#include "model/records.h"
#include "promsqlite/exposition.h"

namespace promsqlite::detail {

// Collects text and hands it to the sink in chunks of about kChunkBytes.
class ChunkedOutput {
 public:
  static constexpr size_t kChunkBytes = 32 * 1024;
  explicit ChunkedOutput(const Sink& sink) : sink_(sink) { text_.reserve(kChunkBytes + 4096); }
  std::string& text() { return text_; }
  void LineDone() {
    if (text_.size() >= kChunkBytes) Flush();
  }
  void Flush() {
    if (!text_.empty()) sink_(text_);
    text_.clear();
  }

 private:
  const Sink& sink_;
  std::string text_;
};

// `{a="x",b="y",extra="z"}`, or nothing when there is no label at all.
// `extra_value` is written as is (already escaped or a number); pass an
// empty `extra_name` for none.
void AppendLabelSet(std::string& out, const std::vector<std::string>& names,
                    const std::vector<std::string>& values, std::string_view extra_name = {},
                    std::string_view extra_value = {});

// `name` + `suffix` + labels + " " + value + "\n".
void AppendSample(std::string& out, const std::string& name, std::string_view suffix,
                  const FamilyRecord& family, const SeriesRecord& series, double value,
                  std::string_view extra_name = {}, std::string_view extra_value = {});

}  // namespace promsqlite::detail

#endif  // PROMSQLITE_SRC_RENDER_OUTPUT_H_
