// promsqlite: Prometheus metrics shared by all processes of a host through
// one SQLite file. Include this header for the whole public API.
#ifndef PROMSQLITE_PROMSQLITE_H_
#define PROMSQLITE_PROMSQLITE_H_

#include "promsqlite/errors.h"
#include "promsqlite/exposition.h"
#include "promsqlite/family.h"
#include "promsqlite/housekeeping.h"
#include "promsqlite/metric_type.h"
#include "promsqlite/metrics.h"
#include "promsqlite/options.h"
#include "promsqlite/reader.h"
#include "promsqlite/registry.h"
#include "promsqlite/validate.h"
#include "promsqlite/version.h"

#endif  // PROMSQLITE_PROMSQLITE_H_
