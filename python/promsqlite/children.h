// The child handles of the Python package: CounterChild, GaugeChild, ...
//
// These are plain CPython types rather than pybind11 classes: their
// methods (inc, set, observe...) are the hot path, and pybind11's generic
// argument dispatch costs about 10x the batched update itself. Everything
// else in the module is pybind11.
#ifndef PROMSQLITE_PYTHON_CHILDREN_H_
#define PROMSQLITE_PYTHON_CHILDREN_H_

#include <Python.h>

#include <exception>
#include <string>

#include "promsqlite/promsqlite.h"

namespace promsqlite::python {

// The exception types of the module (set once by the module's init).
struct ErrorTypes {
  PyObject* database_error = nullptr;        // promsqlite.DatabaseError(OSError)
  PyObject* declaration_conflict = nullptr;  // promsqlite.DeclarationConflict(ValueError)
};
extern ErrorTypes errors;

// Sets the Python error for a C++ exception (InvalidArgument: ValueError,
// DeclarationConflict, DatabaseError: ours, others: RuntimeError) and
// returns null.
PyObject* SetPythonError(std::exception_ptr error);

// A str's UTF-8 bytes into *out; false (with a Python error) on failure.
// Lone surrogates pass through encoded, so that the library's UTF-8 check
// rejects them with its ValueError.
bool ToUtf8(PyObject* text, std::string* out);

// Adds the child types to `module`; false (with a Python error) on failure.
bool AddChildTypes(PyObject* module);

// A new Python child object owning a copy of `handle`. Updates release the
// GIL unless `batched` (batched updates only touch memory).
template <typename T>
PyObject* NewChild(const T& handle, bool batched);

}  // namespace promsqlite::python

#endif  // PROMSQLITE_PYTHON_CHILDREN_H_
