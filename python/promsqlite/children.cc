#include "children.h"

#include <new>
#include <string>

namespace promsqlite::python {

ErrorTypes errors;

PyObject* SetPythonError(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const DatabaseError& e) {
    PyErr_SetString(errors.database_error, e.what());
  } catch (const DeclarationConflict& e) {
    PyErr_SetString(errors.declaration_conflict, e.what());
  } catch (const InvalidArgument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "promsqlite: unknown C++ exception");
  }
  return nullptr;
}

// A str's UTF-8 bytes into *out. Lone surrogates pass through encoded, so
// that the library's UTF-8 check rejects them with its ValueError.
bool ToUtf8(PyObject* text, std::string* out) {
  Py_ssize_t size;
  if (const char* data = PyUnicode_AsUTF8AndSize(text, &size)) {  // cached by the str
    out->assign(data, static_cast<size_t>(size));
    return true;
  }
  PyErr_Clear();
  PyObject* bytes = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
  if (!bytes) return false;
  out->assign(PyBytes_AS_STRING(bytes), static_cast<size_t>(PyBytes_GET_SIZE(bytes)));
  Py_DECREF(bytes);
  return true;
}

namespace {

template <typename T>
struct ChildObject {
  PyObject_HEAD
  T* handle;
  bool batched;
};

template <typename T>
PyTypeObject* child_type = nullptr;

template <typename T>
ChildObject<T>* Self(PyObject* o) {
  return reinterpret_cast<ChildObject<T>*>(o);
}

// Runs f (without the GIL unless keep_gil); false with a Python error set
// when it threw.
template <typename F>
bool Call(bool keep_gil, F&& f) {
  std::exception_ptr error;
  if (keep_gil) {
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
  } else {
    Py_BEGIN_ALLOW_THREADS
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
    Py_END_ALLOW_THREADS
  }
  if (error) {
    SetPythonError(error);
    return false;
  }
  return true;
}

// Positional-or-keyword arguments of a vectorcall into slots (borrowed;
// null when not given). False with a TypeError as Python's own would be.
bool ParseArgs(const char* method, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
               const char* const* names, int count, int required, PyObject** slots) {
  if (nargs > count) {
    PyErr_Format(PyExc_TypeError, "%s() takes at most %d argument%s (%zd given)", method, count,
                 count == 1 ? "" : "s", nargs);
    return false;
  }
  for (int i = 0; i < count; ++i) slots[i] = i < nargs ? args[i] : nullptr;
  if (kwnames) {
    Py_ssize_t keywords = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < keywords; ++k) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, k);
      int i = 0;
      while (i < count && PyUnicode_CompareWithASCIIString(key, names[i]) != 0) ++i;
      if (i == count) {
        PyErr_Format(PyExc_TypeError, "%s() got an unexpected keyword argument '%U'", method, key);
        return false;
      }
      if (slots[i]) {
        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'", method, names[i]);
        return false;
      }
      slots[i] = args[nargs + k];
    }
  }
  for (int i = 0; i < required; ++i) {
    if (!slots[i]) {
      PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s'", method, names[i]);
      return false;
    }
  }
  return true;
}

// A number as float() would take it (int, float, Decimal...).
bool ToDouble(PyObject* o, double* out) {
  if (PyFloat_CheckExact(o)) {
    *out = PyFloat_AS_DOUBLE(o);
    return true;
  }
  double v = PyFloat_AsDouble(o);
  if (v == -1.0 && PyErr_Occurred()) return false;
  *out = v;
  return true;
}

// Gauge.set's value as prometheus_client's set(float(value)) takes it: also
// a string of a number ("3.5"; else a ValueError, as float() raises).
bool ToDoubleLikeFloat(PyObject* o, double* out) {
  if (!PyUnicode_Check(o) && !PyBytes_Check(o) && !PyByteArray_Check(o)) return ToDouble(o, out);
  PyObject* number = PyNumber_Float(o);
  if (!number) return false;
  *out = PyFloat_AS_DOUBLE(number);
  Py_DECREF(number);
  return true;
}

// The exemplar argument as prometheus_client takes it: None or {} is none
// (its `if exemplar:`), a dict of str to str becomes *labels and *given.
// Anything else is a ValueError. The labels themselves (names, length) are
// checked by the library, before it writes anything.
bool ToExemplar(const char* method, PyObject* exemplar, Labels* labels, bool* given) {
  *given = false;
  if (!exemplar || exemplar == Py_None) return true;
  if (!PyDict_Check(exemplar)) {
    PyErr_Format(PyExc_ValueError, "%s(): exemplar must be a dict of label names to str values, not %.200s",
                 method, Py_TYPE(exemplar)->tp_name);
    return false;
  }
  if (PyDict_GET_SIZE(exemplar) == 0) return true;
  try {
    Py_ssize_t pos = 0;
    PyObject* key;
    PyObject* value;
    while (PyDict_Next(exemplar, &pos, &key, &value)) {
      if (!PyUnicode_Check(key) || !PyUnicode_Check(value)) {
        // (References held: repr() may run Python code that changes the dict.)
        Py_INCREF(key);
        Py_INCREF(value);
        if (!PyUnicode_Check(key)) {
          PyErr_Format(PyExc_ValueError,
                       "%s(): exemplar must be a dict of label names to str values, but it has the key %R (%.200s)",
                       method, key, Py_TYPE(key)->tp_name);
        } else {
          PyErr_Format(PyExc_ValueError,
                       "%s(): exemplar must be a dict of label names to str values, but label %R has the value "
                       "%R (%.200s)",
                       method, key, value, Py_TYPE(value)->tp_name);
        }
        Py_DECREF(key);
        Py_DECREF(value);
        return false;
      }
      std::string name, text;
      if (!ToUtf8(key, &name) || !ToUtf8(value, &text)) return false;
      (*labels)[std::move(name)] = std::move(text);
    }
  } catch (...) {
    SetPythonError(std::current_exception());
    return false;
  }
  *given = true;
  return true;
}

// method(amount=default) or method(amount) when !has_default, plus an
// optional exemplar=None when takes_exemplar; then update(handle, amount,
// exemplar labels or null).
template <typename T, typename Update>
PyObject* AmountMethod(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames, const char* method,
                       bool has_default, bool takes_exemplar, Update update) {
  static const char* const names[] = {"amount", "exemplar"};
  double amount = 1;
  Labels labels;  // empty: no allocation on the fast path
  bool has_exemplar = false;
  if (nargs != 0 || kwnames) {
    PyObject* slots[2];
    if (!ParseArgs(method, args, nargs, kwnames, names, takes_exemplar ? 2 : 1, has_default ? 0 : 1, slots))
      return nullptr;
    if (slots[0] && !ToDouble(slots[0], &amount)) return nullptr;
    if (takes_exemplar && !ToExemplar(method, slots[1], &labels, &has_exemplar)) return nullptr;
  } else if (!has_default) {
    PyErr_Format(PyExc_TypeError, "%s() missing required argument 'amount'", method);
    return nullptr;
  }
  ChildObject<T>* self = Self<T>(o);
  const Labels* exemplar = has_exemplar ? &labels : nullptr;
  if (!Call(self->batched, [&] { update(*self->handle, amount, exemplar); })) return nullptr;
  Py_RETURN_NONE;
}

#define PROMSQLITE_FASTCALL(f) reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(f))
constexpr int kFastcall = METH_FASTCALL | METH_KEYWORDS;

// Reads a value of the series (this process's pending updates included).
template <typename T, typename R, typename Read, typename Convert>
PyObject* Get(PyObject* o, Read read, Convert convert) {
  ChildObject<T>* self = Self<T>(o);
  R value{};
  if (!Call(false, [&] { value = read(*self->handle); })) return nullptr;
  return convert(value);
}

PyObject* DoubleList(const std::vector<double>& values) {
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(values.size()));
  if (!list) return nullptr;
  for (size_t i = 0; i < values.size(); ++i) {
    PyObject* item = PyFloat_FromDouble(values[i]);
    if (!item) {
      Py_DECREF(list);
      return nullptr;
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), item);
  }
  return list;
}

// --- Counter
PyObject* CounterInc(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return AmountMethod<Counter>(o, args, nargs, kwnames, "inc", true, true,
                               [](const Counter& c, double amount, const Labels* exemplar) {
                                 if (exemplar) c.Increment(amount, *exemplar);
                                 else c.Increment(amount);
                               });
}
PyObject* CounterGet(PyObject* o, PyObject*) {
  return Get<Counter, double>(o, [](const Counter& c) { return c.Value(); }, PyFloat_FromDouble);
}
PyMethodDef counter_methods[] = {
    {"inc", PROMSQLITE_FASTCALL(CounterInc), kFastcall,
     "inc(amount=1, exemplar=None): adds amount (>= 0). exemplar: a dict of label names to str values kept "
     "with the update (None or {}: none)."},
    {"get", CounterGet, METH_NOARGS, "The current total (the file's, plus this process's pending updates)."},
    {nullptr, nullptr, 0, nullptr}};

// --- Gauge
PyObject* GaugeInc(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return AmountMethod<Gauge>(o, args, nargs, kwnames, "inc", true, false,
                             [](const Gauge& g, double amount, const Labels*) { g.Increment(amount); });
}
PyObject* GaugeDec(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return AmountMethod<Gauge>(o, args, nargs, kwnames, "dec", true, false,
                             [](const Gauge& g, double amount, const Labels*) { g.Decrement(amount); });
}
PyObject* GaugeSet(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"value"};
  PyObject* slot;
  if (!ParseArgs("set", args, nargs, kwnames, names, 1, 1, &slot)) return nullptr;
  double value;
  if (!ToDoubleLikeFloat(slot, &value)) return nullptr;
  ChildObject<Gauge>* self = Self<Gauge>(o);
  if (!Call(self->batched, [&] { self->handle->Set(value); })) return nullptr;
  Py_RETURN_NONE;
}
PyObject* GaugeSetToCurrentTime(PyObject* o, PyObject*) {
  ChildObject<Gauge>* self = Self<Gauge>(o);
  if (!Call(self->batched, [&] { self->handle->SetToCurrentTime(); })) return nullptr;
  Py_RETURN_NONE;
}
PyObject* GaugeGet(PyObject* o, PyObject*) {
  return Get<Gauge, double>(o, [](const Gauge& g) { return g.Value(); }, PyFloat_FromDouble);
}
PyMethodDef gauge_methods[] = {
    {"inc", PROMSQLITE_FASTCALL(GaugeInc), kFastcall, "inc(amount=1): adds amount (any sign, not NaN)."},
    {"dec", PROMSQLITE_FASTCALL(GaugeDec), kFastcall, "dec(amount=1): subtracts amount."},
    {"set", PROMSQLITE_FASTCALL(GaugeSet), kFastcall, "set(value): last writer wins."},
    {"set_to_current_time", GaugeSetToCurrentTime, METH_NOARGS, "Sets the gauge to the Unix time in seconds."},
    {"get", GaugeGet, METH_NOARGS, "The current value (this process's view)."},
    {nullptr, nullptr, 0, nullptr}};

// --- Histogram
PyObject* HistogramObserve(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return AmountMethod<Histogram>(o, args, nargs, kwnames, "observe", false, true,
                                 [](const Histogram& h, double amount, const Labels* exemplar) {
                                   if (exemplar) h.Observe(amount, *exemplar);
                                   else h.Observe(amount);
                                 });
}
PyObject* HistogramGet(PyObject* o, PyObject*) {
  return Get<Histogram, DistributionValue>(
      o, [](const Histogram& h) { return h.Value(); },
      [](const DistributionValue& v) -> PyObject* {
        PyObject* counts = DoubleList(v.cumulative_counts);
        return counts ? Py_BuildValue("(Ndd)", counts, v.sum, v.count) : nullptr;
      });
}
PyMethodDef histogram_methods[] = {
    {"observe", PROMSQLITE_FASTCALL(HistogramObserve), kFastcall,
     "observe(amount, exemplar=None). exemplar: a dict of label names to str values kept for the bucket "
     "of the observation (None or {}: none)."},
    {"get", HistogramGet, METH_NOARGS, "(cumulative bucket counts with +Inf last, sum, count)."},
    {nullptr, nullptr, 0, nullptr}};

// --- Summary
PyObject* SummaryObserve(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  return AmountMethod<Summary>(o, args, nargs, kwnames, "observe", false, false,
                               [](const Summary& s, double amount, const Labels*) { s.Observe(amount); });
}
PyObject* SummaryGet(PyObject* o, PyObject*) {
  return Get<Summary, DistributionValue>(
      o, [](const Summary& s) { return s.Value(); },
      [](const DistributionValue& v) { return Py_BuildValue("(dd)", v.sum, v.count); });
}
PyMethodDef summary_methods[] = {
    {"observe", PROMSQLITE_FASTCALL(SummaryObserve), kFastcall, "observe(amount)."},
    {"get", SummaryGet, METH_NOARGS, "(sum, count)."},
    {nullptr, nullptr, 0, nullptr}};

// --- Enum
PyObject* EnumState(PyObject* o, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  static const char* const names[] = {"state"};
  PyObject* slot;
  if (!ParseArgs("state", args, nargs, kwnames, names, 1, 1, &slot)) return nullptr;
  PyObject* text = PyObject_Str(slot);
  if (!text) return nullptr;
  std::string state;
  const bool encoded = ToUtf8(text, &state);
  Py_DECREF(text);
  if (!encoded) return nullptr;
  ChildObject<Enum>* self = Self<Enum>(o);
  if (!Call(self->batched, [&] { self->handle->Set(state); })) return nullptr;
  Py_RETURN_NONE;
}
PyObject* EnumGet(PyObject* o, PyObject*) {
  return Get<Enum, std::string>(o, [](const Enum& e) { return e.State(); }, [](const std::string& s) {
    return PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "surrogateescape");
  });
}
PyMethodDef enum_methods[] = {
    {"state", PROMSQLITE_FASTCALL(EnumState), kFastcall, "state(state): makes `state` the current one."},
    {"get", EnumGet, METH_NOARGS, "The current state."},
    {nullptr, nullptr, 0, nullptr}};

// --- Info
PyObject* InfoExists(PyObject* o, PyObject*) {
  return Get<Info, bool>(o, [](const Info& i) { return i.Exists(); }, PyBool_FromLong);
}
PyMethodDef info_methods[] = {{"exists", InfoExists, METH_NOARGS, "True while the series is in the file."},
                              {nullptr, nullptr, 0, nullptr}};

template <typename T>
void Dealloc(PyObject* o) {
  PyTypeObject* type = Py_TYPE(o);
  delete Self<T>(o)->handle;
  type->tp_free(o);
  Py_DECREF(type);
}

template <typename T>
bool AddType(PyObject* module, const char* qualified_name, PyMethodDef* methods, const char* doc) {
  PyType_Slot slots[] = {{Py_tp_dealloc, reinterpret_cast<void*>(&Dealloc<T>)},
                         {Py_tp_methods, methods},
                         {Py_tp_doc, const_cast<char*>(doc)},
                         {0, nullptr}};
  PyType_Spec spec = {qualified_name, sizeof(ChildObject<T>), 0,
                      Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION, slots};
  PyObject* type = PyType_FromSpec(&spec);
  if (!type) return false;
  child_type<T> = reinterpret_cast<PyTypeObject*>(type);  // the module's reference keeps it alive
  const char* short_name = qualified_name + std::string(qualified_name).rfind('.') + 1;
  return PyModule_AddObject(module, short_name, type) == 0;
}

}  // namespace

bool AddChildTypes(PyObject* module) {
  return AddType<Counter>(module, "promsqlite._promsqlite.CounterChild", counter_methods,
                          "A counter's series: inc().") &&
         AddType<Gauge>(module, "promsqlite._promsqlite.GaugeChild", gauge_methods,
                        "A gauge's series: inc(), dec(), set(), set_to_current_time().") &&
         AddType<Histogram>(module, "promsqlite._promsqlite.HistogramChild", histogram_methods,
                            "A histogram's series: observe().") &&
         AddType<Summary>(module, "promsqlite._promsqlite.SummaryChild", summary_methods,
                          "A summary's series: observe().") &&
         AddType<Enum>(module, "promsqlite._promsqlite.EnumChild", enum_methods, "An enum's series: state().") &&
         AddType<Info>(module, "promsqlite._promsqlite.InfoChild", info_methods, "An info series.");
}

template <typename T>
PyObject* NewChild(const T& handle, bool batched) {
  PyTypeObject* type = child_type<T>;
  ChildObject<T>* self = PyObject_New(ChildObject<T>, type);
  if (!self) return nullptr;  // (PyObject_New took the reference to the heap type)
  self->batched = batched;
  try {
    self->handle = new T(handle);
  } catch (...) {
    self->handle = nullptr;
    Py_DECREF(self);
    return SetPythonError(std::current_exception());
  }
  return reinterpret_cast<PyObject*>(self);
}

template PyObject* NewChild<Counter>(const Counter&, bool);
template PyObject* NewChild<Gauge>(const Gauge&, bool);
template PyObject* NewChild<Histogram>(const Histogram&, bool);
template PyObject* NewChild<Summary>(const Summary&, bool);
template PyObject* NewChild<Enum>(const Enum&, bool);
template PyObject* NewChild<Info>(const Info&, bool);

}  // namespace promsqlite::python
