#include "push_library.h"

#include <type_traits>

#ifndef PROMSQLITE_PUSH_LINKED
#include <dlfcn.h>
#endif

namespace promsqlite::cli {
namespace {

// The table's types are those of the declarations in promsqlite/push.h: a
// change there fails here, at compile time, not as a crash at run time.
static_assert(std::is_same_v<decltype(&promsqlite::ReadSecretFile), decltype(PushFunctions::read_secret_file)>);
static_assert(std::is_same_v<decltype(&promsqlite::PushToGateway), decltype(PushFunctions::push_to_gateway)>);
static_assert(std::is_same_v<decltype(&promsqlite::RemoteWrite), decltype(PushFunctions::remote_write)>);

#ifdef PROMSQLITE_PUSH_LINKED

PushFunctions Load() { return {&promsqlite::ReadSecretFile, &promsqlite::PushToGateway, &promsqlite::RemoteWrite}; }

#else

// Their symbols: the C++ names of the declarations above, as the Itanium
// ABI (GCC, Clang) spells them, which is what every program linked with
// the library looks up too.
constexpr const char kReadSecretFile[] =
    "_ZN10promsqlite14ReadSecretFileERKNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEE";
constexpr const char kPushToGateway[] = "_ZN10promsqlite13PushToGatewayERNS_6ReaderERKNS_11PushOptionsE";
constexpr const char kRemoteWrite[] = "_ZN10promsqlite11RemoteWriteERNS_6ReaderERKNS_18RemoteWriteOptionsE";

template <typename F>
void Find(void* library, const char* symbol, const char* name, F* out) {
  void* address = dlsym(library, symbol);
  if (address == nullptr)
    throw PushUnavailable(std::string(PROMSQLITE_PUSH_SONAME) + " has no " + name +
                          " (a library of another promsqlite version?): install the one of this promsqlite");
  *out = reinterpret_cast<F>(address);
}

PushFunctions Load() {
  // Never unloaded: the tool exits after the command.
  void* library = dlopen(PROMSQLITE_PUSH_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    const char* why = dlerror();
    throw PushUnavailable(std::string("cannot load ") + PROMSQLITE_PUSH_SONAME +
                          " (Pushgateway and remote-write support): " + (why ? why : "unknown reason") +
                          "; it is installed beside libpromsqlite (Debian: package libpromsqlite0)");
  }
  PushFunctions functions{};
  Find(library, kReadSecretFile, "ReadSecretFile", &functions.read_secret_file);
  Find(library, kPushToGateway, "PushToGateway", &functions.push_to_gateway);
  Find(library, kRemoteWrite, "RemoteWrite", &functions.remote_write);
  return functions;
}

#endif

}  // namespace

const PushFunctions& PushLibrary() {
  static const PushFunctions functions = Load();
  return functions;
}

}  // namespace promsqlite::cli
