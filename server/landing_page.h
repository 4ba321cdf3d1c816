// The HTML page served on "/": what this server is and what it serves.
#ifndef PROMSQLITE_SERVER_LANDING_PAGE_H_
#define PROMSQLITE_SERVER_LANDING_PAGE_H_

#include <string>

#include "promsqlite/reader.h"

namespace promsqlite_server {

// `error` is the file's read error, empty when it could be read.
// `skipped`: the rows the last scrape left out (they cannot be read), at
// Unix time `scraped` (0: no scrape yet).
std::string LandingPage(const std::string& db_path, const promsqlite::FileStats& stats,
                        const std::string& error, const promsqlite::SkippedRows& skipped = {},
                        double scraped = 0);

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(const std::string& text);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_LANDING_PAGE_H_
