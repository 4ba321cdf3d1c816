#include "push_command.h"

#include <algorithm>
#include <cstdio>
#include <functional>
#include <initializer_list>

#include "commands.h"

#if defined(PROMSQLITE_PUSH_HELPER)
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>
#elif defined(PROMSQLITE_HAVE_PUSH)
#include "promsqlite/push.h"
#endif

namespace promsqlite::cli {
namespace {

void AllowOnly(const Args& args, std::initializer_list<const char*> allowed) {
  for (const auto& option : args.options) {
    if (option.first == "--db") continue;
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return option.first == a; }))
      throw UsageError(args.command + " does not take " + option.first);
  }
  if (!args.positionals.empty())
    throw UsageError(args.command + ": unexpected argument \"" + args.positionals[0] + "\"");
}

[[maybe_unused]] std::string Require(const Args& args, const char* option) {
  auto value = args.Option(option);
  if (!value || value->empty()) throw UsageError(args.command + " needs " + option);
  return *value;
}

// The options of each command, checked before anything else.
const std::initializer_list<const char*> kPushOptions = {
    "--gateway", "--job", "--grouping", "--method", "--timeout", "--retries", "--basic-auth",
    "--basic-auth-user", "--basic-auth-password-file", "--bearer-token-file", "--ca-file"};
const std::initializer_list<const char*> kRemoteWriteOptions = {
    "--url", "--timeout", "--retries", "--basic-auth", "--basic-auth-user", "--basic-auth-password-file",
    "--bearer-token-file", "--ca-file", "--send-native-histograms"};

#if defined(PROMSQLITE_PUSH_HELPER)

// The helper program beside this one (the build tree), else where it is
// installed.
std::string HelperPath() {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    std::string beside(self, static_cast<size_t>(n));
    beside = beside.substr(0, beside.rfind('/') + 1) + "promsqlite-push";
    if (access(beside.c_str(), X_OK) == 0) return beside;
  }
  return PROMSQLITE_PUSH_HELPER;
}

// Runs the command in the helper, which replaces this process: its output
// and exit code are the command's.
int RunInHelper(const Args& args) {
  const std::string helper = HelperPath();
  std::vector<char*> argv = {const_cast<char*>("promsqlite")};
  for (const std::string& a : args.arguments) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  execv(helper.c_str(), argv.data());
  std::fprintf(stderr,
               "promsqlite: %s: cannot run %s, the program that sends the file (Pushgateway and remote-write "
               "support): %s; it is installed with promsqlite (Debian: package promsqlite)\n",
               args.command.c_str(), helper.c_str(), std::strerror(errno));
  return kExitPush;
}

#elif defined(PROMSQLITE_HAVE_PUSH)

// A secret from a file (ReadSecretFile: trailing newlines stripped), its
// problem as a usage error naming the option.
std::string ReadSecretFile(const std::string& path, const char* option) {
  try {
    return promsqlite::ReadSecretFile(path);
  } catch (const InvalidArgument& e) {
    throw UsageError(std::string(option) + ": " + e.what());
  }
}

std::vector<std::string> SplitOnNul(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t nul; (nul = text.find('\0', start)) != std::string::npos; start = nul + 1)
    parts.push_back(text.substr(start, nul - start));
  parts.push_back(text.substr(start));
  return parts;
}

std::pair<std::string, std::string> KeyValue(const std::string& text, const char* option) {
  size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError(std::string(option) + " needs KEY=VALUE, got \"" + text + "\"");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

void ReadHttpOptions(const Args& args, HttpOptions& options) {
  if (auto timeout = args.Option("--timeout")) {
    options.timeout_seconds = ParseNumber(*timeout, "--timeout");
    if (!(options.timeout_seconds > 0) || options.timeout_seconds > 3600)
      throw UsageError("--timeout must be between 0 and 3600 seconds, got \"" + *timeout + "\"");
  }
  if (auto retries = args.Option("--retries")) {
    double n = ParseNumber(*retries, "--retries");
    if (!(n >= 0 && n <= 100) || n != static_cast<int>(n))
      throw UsageError("--retries must be a whole number from 0 to 100, got \"" + *retries + "\"");
    options.retries = static_cast<int>(n);
  }
  const bool inline_auth = args.Option("--basic-auth").has_value();
  const bool file_auth = args.Option("--basic-auth-user") || args.Option("--basic-auth-password-file");
  if (inline_auth && file_auth)
    throw UsageError("give --basic-auth or --basic-auth-user with --basic-auth-password-file, not both");
  if (auto auth = args.Option("--basic-auth")) {  // unsafe: visible in ps (documented)
    size_t colon = auth->find(':');
    if (colon == std::string::npos || colon == 0) throw UsageError("--basic-auth needs USER:PASSWORD");
    options.basic_auth_user = auth->substr(0, colon);
    options.basic_auth_password = auth->substr(colon + 1);
  }
  if (file_auth) {
    auto user = args.Option("--basic-auth-user");
    auto file = args.Option("--basic-auth-password-file");
    if (!user || !file) throw UsageError("--basic-auth-user and --basic-auth-password-file go together");
    if (user->empty() || user->find(':') != std::string::npos)
      throw UsageError("--basic-auth-user must be a non-empty name without ':', got \"" + *user + "\"");
    options.basic_auth_user = *user;
    options.basic_auth_password = ReadSecretFile(*file, "--basic-auth-password-file");
  }
  if (auto file = args.Option("--bearer-token-file")) {
    if (inline_auth || file_auth) throw UsageError("give basic auth or --bearer-token-file, not both");
    options.bearer_token = ReadSecretFile(*file, "--bearer-token-file");
  }
  if (auto ca = args.Option("--ca-file")) options.ca_file = *ca;
}

// Delivery failures get their own exit code: a job can tell "the metrics
// are fine, the gateway is down" from a broken file or invocation.
int Deliver(const std::function<void()>& send) {
  try {
    send();
  } catch (const PushError& e) {
    std::fprintf(stderr, "promsqlite: %s\n", e.what());
    return kExitPush;
  }
  return kExitOk;
}

#endif

}  // namespace

#if defined(PROMSQLITE_PUSH_HELPER)

int PushCommand(const Args& args) {
  AllowOnly(args, kPushOptions);
  Require(args, "--gateway");
  Require(args, "--job");
  return RunInHelper(args);
}

int RemoteWriteCommand(const Args& args) {
  AllowOnly(args, kRemoteWriteOptions);
  Require(args, "--url");
  return RunInHelper(args);
}

#elif defined(PROMSQLITE_HAVE_PUSH)

int PushCommand(const Args& args) {
  AllowOnly(args, kPushOptions);
  if (!args.labels.empty()) throw UsageError("push takes --grouping KEY=VALUE, not --label");
  PushOptions options;
  options.url = Require(args, "--gateway");
  options.job = Require(args, "--job");
  if (auto grouping = args.Option("--grouping")) {
    // Repeated --grouping values arrive NUL-separated (see args.cc).
    for (const std::string& pair : SplitOnNul(*grouping)) options.grouping.push_back(KeyValue(pair, "--grouping"));
  }
  std::string method = args.Option("--method").value_or("put");
  if (method != "put" && method != "post") throw UsageError("--method must be put or post, got \"" + method + "\"");
  options.method = method == "post" ? PushMethod::kPost : PushMethod::kPut;
  ReadHttpOptions(args, options);
  Reader reader(DatabasePath(args));
  return Deliver([&] { PushToGateway(reader, options); });
}

int RemoteWriteCommand(const Args& args) {
  AllowOnly(args, kRemoteWriteOptions);
  RemoteWriteOptions options;
  options.url = Require(args, "--url");
  for (const auto& label : args.labels) options.extra_labels.push_back(label);
  options.send_native_histograms = args.Option("--send-native-histograms").has_value();
  ReadHttpOptions(args, options);
  Reader reader(DatabasePath(args));
  return Deliver([&] { RemoteWrite(reader, options); });
}

#else

int PushCommand(const Args& args) {
  AllowOnly(args, kPushOptions);
  std::fprintf(stderr, "promsqlite: push: this promsqlite was built without push support (protobuf, snappy "
                       "or cpp-httplib missing)\n");
  return kExitPush;
}

int RemoteWriteCommand(const Args& args) {
  AllowOnly(args, kRemoteWriteOptions);
  std::fprintf(stderr, "promsqlite: remote-write: this promsqlite was built without push support (protobuf, "
                       "snappy or cpp-httplib missing)\n");
  return kExitPush;
}

#endif

}  // namespace promsqlite::cli
