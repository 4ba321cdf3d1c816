// An LD_PRELOAD shim that counts device flushes: every fsync, fdatasync,
// syncfs and sync of the process appends one byte to the file named by
// $PROMSQLITE_FLUSH_LOG (opened for each call, with O_APPEND, so that
// processes and threads that share the file each add theirs), then does
// the call. Without $PROMSQLITE_FLUSH_LOG it only does the call.
//
//   PROMSQLITE_FLUSH_LOG=/tmp/flushes LD_PRELOAD=.../libpromsqlite_flush_counter.so promsqlite ...
//   stat -c %s /tmp/flushes     # the number of flushes
//
// Used by the CLI tests and bench/run (cli_flushes_per_call). It sees the
// calls that go through the dynamic linker (SQLite's, the library's); a
// flush made inside libc itself would pass unseen, and none is.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // RTLD_NEXT
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace {

void Count() {
  const int saved = errno;
  if (const char* log = std::getenv("PROMSQLITE_FLUSH_LOG"); log != nullptr && *log != '\0') {
    const int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ssize_t ignored = write(fd, "f", 1);
      (void)ignored;
      close(fd);
    }
  }
  errno = saved;
}

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

int fsync(int fd) {
  Count();
  static const auto next = Next<int (*)(int)>("fsync");
  return next(fd);
}

int fdatasync(int fd) {
  Count();
  static const auto next = Next<int (*)(int)>("fdatasync");
  return next(fd);
}

int syncfs(int fd) {
  Count();
  static const auto next = Next<int (*)(int)>("syncfs");
  return next(fd);
}

void sync() {
  Count();
  static const auto next = Next<void (*)()>("sync");
  next();
}

}  // extern "C"
