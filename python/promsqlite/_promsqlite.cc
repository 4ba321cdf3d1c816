// _promsqlite: the C++ half of the Python package `promsqlite` (pybind11).
// The classes here are internal; promsqlite/__init__.py builds the
// prometheus_client-shaped API on them. The child handles (children.h) are
// plain CPython types because their methods are the hot path.
//
// GIL: every call that may wait for the file's write lock (immediate
// updates, declarations, first lookups of a label tuple, flushes, reads)
// releases it, so other Python threads run meanwhile. Batched updates only
// touch memory and keep it (releasing would cost more than the update).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "children.h"
#include "promsqlite/promsqlite.h"

namespace py = pybind11;
using namespace promsqlite;

namespace {

// Python str -> UTF-8. Lone surrogates pass through encoded, so that the
// library's UTF-8 check rejects them with its ValueError instead of a
// TypeError from the argument conversion.
std::string Utf8(const py::handle& value) {
  py::str text = py::str(value);
  std::string out;
  if (!python::ToUtf8(text.ptr(), &out)) throw py::error_already_set();
  return out;
}

std::vector<std::string> Utf8List(const py::iterable& values) {
  std::vector<std::string> out;
  for (const py::handle& v : values) out.push_back(Utf8(v));
  return out;
}

MetricType ParseType(const std::string& type) {
  static const std::map<std::string, MetricType> types = {
      {"counter", MetricType::kCounter}, {"gauge", MetricType::kGauge},  {"histogram", MetricType::kHistogram},
      {"summary", MetricType::kSummary}, {"info", MetricType::kInfo},    {"stateset", MetricType::kStateSet}};
  auto it = types.find(type);
  if (it == types.end()) throw InvalidArgument("unknown metric type \"" + type + "\"");
  return it->second;
}

GaugeMode ParseGaugeMode(const std::string& mode) {
  static const GaugeMode modes[] = {GaugeMode::kShared,  GaugeMode::kAll,     GaugeMode::kLiveAll, GaugeMode::kSum,
                                    GaugeMode::kLiveSum, GaugeMode::kMax,     GaugeMode::kLiveMax, GaugeMode::kMin,
                                    GaugeMode::kLiveMin, GaugeMode::kMostRecent, GaugeMode::kLiveMostRecent};
  for (GaugeMode m : modes) {
    if (mode == GaugeModeName(m)) return m;
  }
  throw InvalidArgument("unknown gauge mode \"" + mode +
                        "\" (known: all, liveall, sum, livesum, max, livemax, min, livemin, mostrecent, "
                        "livemostrecent)");
}

FamilySpec MakeSpec(const std::string& type, const py::handle& name, const py::handle& help, const py::handle& unit,
                    const py::iterable& label_names, const std::vector<double>& buckets,
                    const py::iterable& states, const std::string& gauge_mode, double ttl_seconds) {
  FamilySpec spec;
  spec.type = ParseType(type);
  spec.name = Utf8(name);
  spec.help = Utf8(help);
  spec.unit = Utf8(unit);
  spec.label_names = Utf8List(label_names);
  spec.buckets = buckets;
  spec.states = Utf8List(states);
  spec.gauge_mode = ParseGaugeMode(gauge_mode);
  spec.ttl_seconds = ttl_seconds;
  return spec;
}

py::tuple SpecTuple(const FamilySpec& spec) {
  return py::make_tuple(MetricTypeName(spec.type), spec.name, spec.help, spec.unit, spec.label_names, spec.buckets,
                        spec.states, GaugeModeName(spec.gauge_mode));
}

// Runs f without the GIL unless `keep` (a batched update: memory only).
template <typename F>
void MaybeWithoutGil(bool keep, F&& f) {
  if (keep) {
    f();
    return;
  }
  py::gil_scoped_release nogil;
  f();
}

// A declared family of type T.
template <typename T>
struct PyFamily {
  Family<T> family;
  bool batched;

  py::object Labels(const py::iterable& values) const {
    std::vector<std::string> utf8 = Utf8List(values);
    std::optional<T> child;
    {
      py::gil_scoped_release nogil;  // a new tuple is created in the file
      child = family.WithLabelValues(utf8);
    }
    return Wrap(*child);
  }
  py::object LabelsByName(const py::dict& labels) const {
    promsqlite::Labels map;
    for (const auto& item : labels) map[Utf8(item.first)] = Utf8(item.second);
    std::optional<T> child;
    {
      py::gil_scoped_release nogil;
      child = family.Add(map);
    }
    return Wrap(*child);
  }
  py::object Wrap(const T& child) const {
    PyObject* object = python::NewChild(child, batched);
    if (!object) throw py::error_already_set();
    return py::reinterpret_steal<py::object>(object);
  }
};

class PyRegistry {
 public:
  PyRegistry(const std::string& path, const Options& options)
      : batched_(options.write_mode == WriteMode::kBatched), registry_(Open(path, options)) {}

  template <typename T>
  PyFamily<T> DeclareAs(const FamilySpec& spec) {
    py::gil_scoped_release nogil;
    return PyFamily<T>{registry_.Register<T>(spec), batched_};
  }

  py::object Declare(const std::string& type, const py::handle& name, const py::handle& help,
                     const py::handle& unit, const py::iterable& label_names, const std::vector<double>& buckets,
                     const py::iterable& states, const std::string& gauge_mode, double ttl_seconds) {
    FamilySpec spec = MakeSpec(type, name, help, unit, label_names, buckets, states, gauge_mode, ttl_seconds);
    switch (spec.type) {
      case MetricType::kCounter: return py::cast(DeclareAs<Counter>(spec));
      case MetricType::kGauge: return py::cast(DeclareAs<Gauge>(spec));
      case MetricType::kHistogram: return py::cast(DeclareAs<Histogram>(spec));
      case MetricType::kSummary: return py::cast(DeclareAs<Summary>(spec));
      case MetricType::kInfo: return py::cast(DeclareAs<Info>(spec));
      case MetricType::kStateSet: return py::cast(DeclareAs<Enum>(spec));
    }
    throw InvalidArgument("unknown metric type");
  }

  bool RemoveSeries(const std::string& name, const py::dict& labels) {
    promsqlite::Labels map;
    for (const auto& item : labels) map[Utf8(item.first)] = Utf8(item.second);
    py::gil_scoped_release nogil;
    return registry_.RemoveSeries(name, map);
  }

  bool ClearFamily(const std::string& name) {
    py::gil_scoped_release nogil;
    return registry_.ClearFamily(name);
  }

  bool RemoveFamily(const std::string& name) {
    py::gil_scoped_release nogil;
    return registry_.RemoveFamily(name);
  }

  // {"expired_series": n, ...}: what one housekeeping pass deleted.
  py::dict Housekeep() {
    HousekeepingReport report;
    {
      py::gil_scoped_release nogil;
      report = registry_.Housekeep();
    }
    py::dict out;
    out["expired_series"] = report.expired_series;
    out["dead_process_series"] = report.dead_process_series;
    out["dead_writers"] = report.dead_writers;
    out["orphaned_series"] = report.orphaned_series;
    out["recovered_regions"] = report.recovered_regions;
    out["recovered_updates"] = report.recovered_updates;
    out["complete"] = report.complete;
    return out;
  }

  void Flush() {
    py::gil_scoped_release nogil;
    registry_.Flush();
  }

  py::dict WaitingForLock() const {
    const Registry::Waiting waiting = registry_.WaitingForLock();
    py::dict out;
    out["updates"] = waiting.updates;
    out["since"] = waiting.since;
    return out;
  }

  const std::string& path() const { return registry_.path(); }
  bool batched() const { return batched_; }

 private:
  static Registry Open(const std::string& path, const Options& options) {
    py::gil_scoped_release nogil;
    return Registry(path, options);
  }
  bool batched_;
  Registry registry_;
};

// Options::file_mode (docs/permissions.md) exists in libraries that have
// the file-permissions work; this glue builds with or without it.
template <typename O, typename = void>
struct HasFileMode : std::false_type {};
template <typename O>
struct HasFileMode<O, std::void_t<decltype(std::declval<O&>().file_mode)>> : std::true_type {};

template <typename O>
void SetFileMode(O& options, long long mode) {
  if constexpr (HasFileMode<O>::value) {
    options.file_mode = static_cast<unsigned>(mode);
  } else {
    (void)options;
    (void)mode;
    throw InvalidArgument("option file_mode: this build of the promsqlite library has no Options::file_mode");
  }
}

// Options from keyword arguments named like the fields of Options.
Options MakeOptions(const py::kwargs& kwargs) {
  Options options;
  for (const auto& item : kwargs) {
    std::string key = py::str(item.first);
    py::handle value = item.second;
    if (key == "create_if_missing") {
      options.create_if_missing = value.cast<bool>();
    } else if (key == "immediate_outside_regions") {
      if (!py::isinstance<py::bool_>(value))
        throw InvalidArgument("option " + key + ": expected True or False, got " +
                              std::string(py::str(py::repr(value))));
      options.immediate_outside_regions = value.cast<bool>();
    } else if (key == "synchronous") {
      std::string s = Utf8(value);
      if (s == "normal") options.synchronous = Synchronous::kNormal;
      else if (s == "full") options.synchronous = Synchronous::kFull;
      else throw InvalidArgument("option synchronous: \"" + s + "\" is neither \"normal\" nor \"full\"");
    } else if (key == "write_mode") {
      std::string s = Utf8(value);
      if (s == "immediate") options.write_mode = WriteMode::kImmediate;
      else if (s == "batched") options.write_mode = WriteMode::kBatched;
      else throw InvalidArgument("option write_mode: \"" + s + "\" is neither \"immediate\" nor \"batched\"");
    } else if (key == "pending_store") {
      std::string s = Utf8(value);
      if (s == "shared_file") options.pending_store = PendingStore::kSharedFile;
      else if (s == "process_memory") options.pending_store = PendingStore::kProcessMemory;
      else
        throw InvalidArgument("option pending_store: \"" + s +
                              "\" is neither \"shared_file\" nor \"process_memory\"");
    } else if (key == "busy_timeout_ms" || key == "checkpoint_wal_pages" || key == "flush_interval_ms" ||
               key == "housekeeping_interval_ms" || key == "checkpoint_busy_timeout_ms" || key == "file_mode" ||
               key == "page_size" || key == "update_lock_wait_ms") {
      if (!py::isinstance<py::int_>(value) || py::isinstance<py::bool_>(value))
        throw InvalidArgument("option " + key + ": expected an integer, got " +
                              std::string(py::str(py::repr(value))));
      long long v = value.cast<long long>();
      // update_lock_wait_ms -1: wait busy_timeout_ms for the lock, then raise.
      const long long low = key == "flush_interval_ms" ? 1 : key == "update_lock_wait_ms" ? -1 : 0;
      const long long high = key == "file_mode" ? 0777 : 1000000000;
      if (v < low || v > high)
        throw InvalidArgument("option " + key + ": " + std::to_string(v) + " is out of range (" +
                              std::to_string(low) + " to " + std::to_string(high) + ")");
      int i = static_cast<int>(v);
      if (key == "file_mode") SetFileMode(options, v);
      else if (key == "busy_timeout_ms") options.busy_timeout_ms = i;
      else if (key == "checkpoint_wal_pages") options.checkpoint_wal_pages = i;
      else if (key == "flush_interval_ms") options.flush_interval_ms = i;
      else if (key == "housekeeping_interval_ms") options.housekeeping_interval_ms = i;
      else if (key == "page_size") options.page_size = i;
      else if (key == "update_lock_wait_ms") options.update_lock_wait_ms = i;
      else options.checkpoint_busy_timeout_ms = i;
    } else {
      throw InvalidArgument("unknown option \"" + key +
                            "\" (known: create_if_missing, synchronous, write_mode, pending_store, "
                            "immediate_outside_regions, flush_interval_ms, "
                            "busy_timeout_ms, checkpoint_wal_pages, housekeeping_interval_ms, "
                            "checkpoint_busy_timeout_ms, file_mode, page_size, update_lock_wait_ms)");
    }
  }
  return options;
}

// A read-only view of a whole file (FileCollector, the collectors'
// snapshots, generate_latest without prometheus_client).
class PyReader {
 public:
  explicit PyReader(const std::string& path) : reader_(path) {}

  // [(spec tuple, [(label_values, value, count, cumulative bucket counts
  // without +Inf, created, exemplars)])] of the families in `names` (None:
  // all). exemplars: [(bucket, {label: value}, value, timestamp)] sorted by
  // bucket: 0 for a counter's; a histogram's index in the spec's buckets,
  // len(buckets) for +Inf.
  py::list Snapshot(const std::optional<std::vector<std::string>>& names) {
    std::vector<FamilySnapshot> families;
    {
      py::gil_scoped_release nogil;
      families = names ? reader_.Snapshot(*names) : reader_.Snapshot();
    }
    py::list out;
    for (const FamilySnapshot& f : families) {
      py::list series;
      for (const SeriesSnapshot& s : f.series) {
        std::vector<double> buckets(s.bucket_counts.begin(), s.bucket_counts.end());
        py::list exemplars;
        for (const ExemplarSnapshot& e : s.exemplars)
          exemplars.append(py::make_tuple(e.bucket, e.labels, e.value, e.timestamp));
        series.append(
            py::make_tuple(s.label_values, s.value, static_cast<double>(s.count), buckets, s.created, exemplars));
      }
      out.append(py::make_tuple(SpecTuple(f.spec), series));
    }
    return out;
  }

  // `format`: a name of the library's table ("text", "openmetrics",
  // "protobuf"); ValueError naming them for another.
  py::bytes Render(const std::string& format) {
    const Format chosen = ParseFormat(format);
    std::string out;
    {
      py::gil_scoped_release nogil;
      out = reader_.Render(chosen);
    }
    return py::bytes(out);
  }

 private:
  Reader reader_;
};

template <typename T>
void BindFamily(py::module_& m, const char* name) {
  py::class_<PyFamily<T>>(m, name)
      .def("labels", &PyFamily<T>::Labels, py::arg("values"))
      .def("labels_by_name", &PyFamily<T>::LabelsByName, py::arg("labels"))
      .def("cached_children", [](const PyFamily<T>& f) { return f.family.CachedChildren(); });
}

}  // namespace

PYBIND11_MODULE(_promsqlite, m) {
  m.doc() = "promsqlite's C++ core; use the package promsqlite.";

  // Module attributes hold the references; the types live as long as the module.
  python::errors.database_error = PyErr_NewExceptionWithDoc(
      "promsqlite.DatabaseError",
      "The file cannot be used: not a promsqlite database, corrupt, newer schema, unwritable, locked for "
      "longer than busy_timeout_ms... The message names the file.",
      PyExc_OSError, nullptr);
  python::errors.declaration_conflict = PyErr_NewExceptionWithDoc(
      "promsqlite.DeclarationConflict",
      "A metric was declared differently from what the file already holds (type, labels, unit, buckets, "
      "states, gauge mode). The message names both declarations.",
      PyExc_ValueError, nullptr);
  if (!python::errors.database_error || !python::errors.declaration_conflict) throw py::error_already_set();
  m.attr("DatabaseError") = py::handle(python::errors.database_error);
  m.attr("DeclarationConflict") = py::handle(python::errors.declaration_conflict);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const promsqlite::Error&) {
      python::SetPythonError(p);
    }
  });

  m.def("version", [] { return std::string(Version()); });
  m.def(
      "content_type", [](const std::string& format) { return std::string(ContentType(ParseFormat(format))); },
      py::arg("format"), "The HTTP Content-Type of the format named; ValueError naming the formats for another.");

  m.def(
      "check_spec",
      [](const std::string& type, const py::handle& name, const py::handle& help, const py::handle& unit,
         const py::iterable& label_names, const std::vector<double>& buckets, const py::iterable& states,
         const std::string& gauge_mode, double ttl_seconds) {
        return SpecTuple(CheckFamilySpec(
            MakeSpec(type, name, help, unit, label_names, buckets, states, gauge_mode, ttl_seconds)));
      },
      "The declaration as it would be stored (name normalized); ValueError when invalid.");

  py::class_<PyRegistry>(m, "Registry")
      .def(py::init([](const std::string& path, const py::kwargs& kwargs) {
             return new PyRegistry(path, MakeOptions(kwargs));
           }),
           py::arg("path"))
      .def("declare", &PyRegistry::Declare)
      .def("remove_series", &PyRegistry::RemoveSeries)
      .def("clear_family", &PyRegistry::ClearFamily)
      .def("remove_family", &PyRegistry::RemoveFamily)
      .def("housekeep", &PyRegistry::Housekeep)
      .def("flush", &PyRegistry::Flush)
      .def("waiting_for_lock", &PyRegistry::WaitingForLock)
      .def_property_readonly("path", &PyRegistry::path)
      .def_property_readonly("batched", &PyRegistry::batched);

  py::class_<PyReader>(m, "Reader")
      .def(py::init<const std::string&>(), py::arg("path"))
      .def("snapshot", &PyReader::Snapshot, py::arg("names") = py::none())
      .def("render", &PyReader::Render, py::arg("format") = "text");

  BindFamily<Counter>(m, "CounterFamily");
  BindFamily<Gauge>(m, "GaugeFamily");
  BindFamily<Histogram>(m, "HistogramFamily");
  BindFamily<Summary>(m, "SummaryFamily");
  BindFamily<Info>(m, "InfoFamily");
  BindFamily<Enum>(m, "EnumFamily");

  if (!python::AddChildTypes(m.ptr())) throw py::error_already_set();
}
