// The push and remote-write commands: send the file to a Pushgateway or a
// remote-write receiver (promsqlite/push.h). The tool runs them in a program
// of its own, promsqlite-push (cli/meson.build says why), which this file
// builds into too. Failures to deliver are one line on stderr and exit code
// kExitPush.
#ifndef PROMSQLITE_CLI_PUSH_COMMAND_H_
#define PROMSQLITE_CLI_PUSH_COMMAND_H_

#include "args.h"

namespace promsqlite::cli {

// The push endpoint refused the data or could not be reached after the
// retries, or the tool was built without push support or cannot run its
// helper program.
constexpr int kExitPush = 4;

// push --gateway URL --job NAME [--grouping KEY=VALUE]... [--method put|post]
int PushCommand(const Args& args);

// remote-write --url URL [--label KEY=VALUE]...
int RemoteWriteCommand(const Args& args);

}  // namespace promsqlite::cli

#endif  // PROMSQLITE_CLI_PUSH_COMMAND_H_
