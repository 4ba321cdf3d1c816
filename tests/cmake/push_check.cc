// Links promsqlite::push: a remote-write to a port nothing listens on must
// fail with PushError status 0 (no answer) after its one attempt.
#include <promsqlite/push.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  promsqlite::Reader reader(argv[1]);
  promsqlite::RemoteWriteOptions options;
  options.url = argv[2];
  options.retries = 0;
  options.timeout_seconds = 5;
  try {
    promsqlite::RemoteWrite(reader, options);
  } catch (const promsqlite::PushError& e) {
    std::printf("PushError status %d\n", e.status());
    return 0;
  }
  return 1;
}
