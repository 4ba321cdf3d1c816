#include "commands.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "promsqlite/promsqlite.h"
#include "push_command.h"
#include "timed_command.h"

namespace promsqlite::cli {
namespace {

struct CommandInfo {
  const char* synopsis;
  const char* description;
};

const std::map<std::string, CommandInfo>& Commands() {
  static const std::map<std::string, CommandInfo> commands = {
      {"inc", {"inc NAME [AMOUNT] [--label KEY=VALUE]... [--exemplar KEY=VALUE]... [--help TEXT]",
               "Adds AMOUNT (default 1, finite, >= 0) to counter NAME. NAME may end in _total or not;\n"
               "it is exposed as NAME_total either way. --exemplar keeps an exemplar with the update\n"
               "(e.g. --exemplar job_id=$CI_JOB_ID; shown in OpenMetrics and protobuf). An empty VALUE\n"
               "(job_id= when the variable is unset) is kept as an empty value, as the official\n"
               "clients keep it."}},
      {"set", {"set NAME VALUE [--label KEY=VALUE]... [--help TEXT]", "Sets gauge NAME to VALUE (last writer wins)."}},
      {"add", {"add NAME DELTA [--label KEY=VALUE]... [--help TEXT]",
               "Adds DELTA (may be negative) to gauge NAME, atomically across processes."}},
      {"observe", {"observe NAME VALUE [--buckets B1,B2,...] [--native-factor F [--native-zero-threshold Z]\n"
                   "        [--native-max-buckets N]] [--label KEY=VALUE]... [--exemplar KEY=VALUE]...\n"
                   "        [--help TEXT]",
                   "Observes VALUE in histogram NAME (--exemplar: as for inc, kept for VALUE's bucket). Without --buckets or --native-factor: the file's\n"
                   "declaration when NAME exists, else Prometheus' default buckets (.005 .01 .025 .05 .1\n"
                   ".25 .5 1 2.5 5 10). --native-factor F (> 1, e.g. 1.1) makes it a native histogram\n"
                   "(native only, or both with --buckets); --native-zero-threshold (default 2^-128) and\n"
                   "--native-max-buckets (default 160; beyond it the resolution is halved) refine it."}},
      {"time", {"time NAME [--label KEY=VALUE]... [--buckets ...] [--native-factor F ...] [--help TEXT] -- COMMAND [ARGS...]",
                "Runs COMMAND (stdin, stdout, stderr passed through; signals sent to promsqlite are\n"
                "forwarded), observes its wall time in seconds in histogram NAME, and counts the run in\n"
                "counter NAME_runs_total (NAME without a trailing _seconds) with label\n"
                "outcome=\"success\" (exit 0) or outcome=\"failure\". Exits with COMMAND's status\n"
                "(128+N when killed by signal N; 127 when it cannot be started, still counted as a\n"
                "failure). If recording fails, the error is printed and COMMAND's status is kept."}},
      {"info", {"info NAME [--label KEY=VALUE]... [--help TEXT]",
                "Adds the info series NAME_info{KEY=VALUE...} 1. Remove an outdated one with rm."}},
      {"state", {"state NAME STATE [--states A,B,C] [--label KEY=VALUE]... [--help TEXT]",
                 "Sets enum (StateSet) NAME to STATE. --states declares the states; it may be\n"
                 "left out when NAME already exists."}},
      {"dump", {"dump [--format text|openmetrics|protobuf]",
                "Writes the whole file's exposition to stdout (default: text 0.0.4; protobuf is\n"
                "binary: length-delimited io.prometheus.client.MetricFamily messages)."}},
      {"list", {"list", "Lists families: name, type, series count, label names, help."}},
      {"check", {"check [--repair]",
                 "Lists every row of the file that readers cannot read (written wrongly by another\n"
                 "program): table, key, family, problem; exit 5 when there is one. dump, list and\n"
                 "promsqlite-server leave such rows out (dump and list exit 5). --repair deletes them\n"
                 "in one transaction, after listing them: a family's declaration with its series, a\n"
                 "series with its buckets and exemplars, a bucket or exemplar row alone."}},
      {"clear", {"clear NAME", "Removes every series of NAME; its declaration stays."}},
      {"wipe", {"wipe --yes", "Removes every metric from the file (the file and its schema stay)."}},
      {"housekeep", {"housekeep",
                     "Deletes expired series (--ttl), live-mode gauge rows of dead processes and rows\n"
                     "of removed families, and prints what it deleted."}},
      {"push", {"push --gateway URL --job NAME [--grouping KEY=VALUE]... [--method put|post] [HTTP options]",
                "Pushes the whole file (text 0.0.4) to a Prometheus Pushgateway as the group\n"
                "job=NAME plus the --grouping labels. put (default) replaces the group's metrics;\n"
                "post replaces only the names pushed. Grouping values that are empty or have\n"
                "characters other than A-Z a-z 0-9 . _ ~ - (such as '/') are sent in the @base64\n"
                "form. HTTP options: --timeout SECONDS (per attempt, default 10), --retries N\n"
                "(default 2, exponential backoff; only after no answer, 429 or 5xx),\n"
                "--basic-auth-user USER with --basic-auth-password-file FILE (trailing newlines\n"
                "are not part of the password), --bearer-token-file FILE, --ca-file PEM (https).\n"
                "--basic-auth USER:PASSWORD also works but is unsafe: other users see it in ps,\n"
                "and it stays in the shell's history."}},
      {"remote-write", {"remote-write --url URL [--label KEY=VALUE]... [--send-native-histograms] [HTTP options]",
                        "Sends every sample of the file, stamped now, to a remote-write 1.0 receiver\n"
                        "(e.g. http://prometheus:9090/api/v1/write). Native histograms go as classic buckets\n"
                        "(or, native-only, as their +Inf bucket, _sum and _count), as Prometheus' own sender\n"
                        "does by default; --send-native-histograms sends them as native histogram samples\n"
                        "(the receiver must accept them: Prometheus --enable-feature=native-histograms).\n"
                        "--label adds a label to every series: give each host a distinct one (e.g.\n"
                        "instance=HOST), or the counters of several hosts collide in one series. HTTP\n"
                        "options as for push; a refusal (4xx but 429) is not retried, and the message\n"
                        "gives the receiver's reason."}},
      {"rm", {"rm NAME [--label KEY=VALUE]...",
              "Removes the series of NAME with exactly these labels; without --label, removes the\n"
              "whole family (its declaration and all its series)."}},
  };
  return commands;
}

std::string Need(const Args& args, size_t index, const char* what) {
  if (index >= args.positionals.size()) throw UsageError(args.command + " needs " + what);
  return args.positionals[index];
}

void NoMorePositionals(const Args& args, size_t count) {
  if (args.positionals.size() > count)
    throw UsageError(args.command + ": unexpected argument \"" + args.positionals[count] + "\"");
}

void AllowOptions(const Args& args, std::initializer_list<const char*> allowed) {
  for (const auto& option : args.options) {
    if (option.first == "--db" || option.first == "--mode" || option.first == "--synchronous") continue;
    if (std::find_if(allowed.begin(), allowed.end(), [&](const char* a) { return option.first == a; }) ==
        allowed.end())
      throw UsageError(args.command + " does not take " + option.first);
  }
}

// The declaration a write command makes: type, name, --help, --ttl, label
// names from --label, validated before the file is opened.
FamilySpec DeclareFrom(const Args& args, MetricType type, const std::string& name) {
  FamilySpec spec;
  spec.type = type;
  spec.name = name;
  spec.help = args.Option("--help").value_or("");
  if (auto ttl = args.Option("--ttl")) spec.ttl_seconds = ParseNumber(*ttl, "--ttl");
  for (const auto& label : args.labels) spec.label_names.push_back(label.first);
  return spec;
}

// --mode, else $PROMSQLITE_MODE: the permission bits (octal) of a file this
// command creates; 0 (neither given) leaves them to SQLite.
unsigned FileMode(const Args& args) {
  std::string what = "--mode";
  std::optional<std::string> text = args.Option("--mode");
  if (const char* env = std::getenv("PROMSQLITE_MODE"); !text && env && *env) {
    text = env;
    what = "PROMSQLITE_MODE";
  }
  if (!text) return 0;
  unsigned mode = 0;
  bool octal = !text->empty() && text->size() <= 4;
  for (char c : *text) {
    octal = octal && c >= '0' && c <= '7';
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (!octal || mode > 0777 || (mode & 0600) != 0600)
    throw UsageError(what + " must be octal permission bits that include owner read and write (such as 0660), " +
                     "got \"" + *text + "\"");
  return mode;
}

// --synchronous, else $PROMSQLITE_SYNCHRONOUS: "normal" (the default: an
// update survives the process, a power loss may take the last ones) or
// "full" (every update synced to the device before the command exits).
Synchronous SynchronousMode(const Args& args) {
  std::string what = "--synchronous";
  std::optional<std::string> text = args.Option("--synchronous");
  if (const char* env = std::getenv("PROMSQLITE_SYNCHRONOUS"); !text && env && *env) {
    text = env;
    what = "PROMSQLITE_SYNCHRONOUS";
  }
  if (!text || *text == "normal") return Synchronous::kNormal;
  if (*text == "full") return Synchronous::kFull;
  throw UsageError(what + " must be normal or full, got \"" + *text + "\"");
}

// The values the library refuses, refused first in the tool's words: the
// library's messages name its C++ methods (Counter.Increment, ...).
void CheckAmount(const std::string& name, Update update, double value, const std::string& text) {
  const std::string prefix = "metric '" + name + "': ";
  switch (update) {
    case Update::kCounterIncrement:
      if (std::isnan(value) || std::isinf(value))
        throw InvalidArgument(prefix + "AMOUNT must be a finite number >= 0, got \"" + text + "\"");
      if (value < 0)
        throw InvalidArgument(prefix + "AMOUNT must be >= 0, got \"" + text +
                              "\": counters only go up (for a value that also goes down, use a gauge: "
                              "promsqlite add NAME DELTA)");
      break;
    case Update::kGaugeAdd:
      if (std::isnan(value)) throw InvalidArgument(prefix + "DELTA must be a number, not NaN");
      break;
    case Update::kObserve:
      if (std::isnan(value)) throw InvalidArgument(prefix + "VALUE must be a number, not NaN");
      break;
    case Update::kGaugeSet:
      break;
  }
  CheckValue(name, update, value);
}

// Prints `out` on stdout in one piece: a command that fails has printed
// nothing (its output may be redirected into a file that others read).
int WriteOut(const std::string& out) {
  if (std::fwrite(out.data(), 1, out.size(), stdout) == out.size() && std::fflush(stdout) == 0) return kExitOk;
  std::fprintf(stderr, "promsqlite: cannot write to stdout: %s\n", std::strerror(errno));
  return kExitDatabaseError;
}

// Readers of the file for dump and list: rows that cannot be read are left
// out (and said on stderr, ReportSkipped), as the server leaves them out.
ReaderOptions Lenient() {
  ReaderOptions options;
  options.unreadable_rows = UnreadableRows::kSkip;
  return options;
}

// After the output: what it left out, on stderr, and the exit code.
int ReportSkipped(const std::string& path, const SkippedRows& skipped) {
  if (skipped.empty()) return kExitOk;
  const int64_t total = skipped.total();
  std::string text = "promsqlite: left out " + std::to_string(total) + (total == 1 ? " row" : " rows") + " of " +
                     path + " that cannot be read (promsqlite check lists them, check --repair deletes them):\n";
  for (const UnreadableRow& row : skipped.listed) text += "promsqlite:   " + row.ToString() + "\n";
  if (static_cast<size_t>(total) > skipped.listed.size())
    text += "promsqlite:   and " + std::to_string(total - static_cast<int64_t>(skipped.listed.size())) + " more\n";
  std::fputs(text.c_str(), stderr);
  return kExitUnreadableRows;
}

// How long an update command waits for a write lock another process
// holds, before it keeps the update in the file's pending region: for the
// update, and again for the flush before the command exits.
constexpr int kUpdateLockWaitMs = 1000;

// One update per process: a transaction costs less than a region and a
// flusher thread, and the update is in the file when the command exits.
// Unless another process holds the write lock past kUpdateLockWaitMs: the
// update is then kept in the pending region (docs/pending-regions.md,
// "Records"), Finish says so in one line, and the command still succeeds.
Registry Open(const Args& args) {
  Options options;
  options.write_mode = WriteMode::kImmediate;
  options.file_mode = FileMode(args);
  options.synchronous = SynchronousMode(args);
  options.update_lock_wait_ms = kUpdateLockWaitMs;
  options.busy_timeout_ms = kUpdateLockWaitMs;
  // Finish says what matters in one line: whether the update had to be
  // left for another process to write.
  options.on_background_error = [](const std::string&) {};
  return Registry(DatabasePath(args), options);
}

// After an update command: says in one line when the update had to be
// kept for the lock (the flush at exit writes it if the lock is free by
// then, waiting kUpdateLockWaitMs more; else the next writer or
// housekeeping pass does). The command still succeeds: the update is safe.
int Finish(Registry& registry) {
  if (registry.WaitingForLock().updates == 0) return kExitOk;
  std::fprintf(stderr,
               "promsqlite: %s: another process held the write lock for %d ms; the update is kept in the file's "
               "pending region, written at exit if the lock is free by then, else by the next writer or "
               "housekeeping pass\n",
               registry.path().c_str(), kUpdateLockWaitMs);
  return kExitOk;
}

// For commands that only change what exists: a missing file is an error
// (said here: the library's message names its create_if_missing option).
Registry OpenExisting(const Args& args) {
  Options options;
  options.write_mode = WriteMode::kImmediate;
  options.file_mode = FileMode(args);
  options.synchronous = SynchronousMode(args);
  options.create_if_missing = false;
  const std::string path = DatabasePath(args);
  struct stat st;
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT)
    throw DatabaseError(path + ": no such file (" + args.command + " does not create one)");
  return Registry(path, options);
}

int Inc(const Args& args) {
  AllowOptions(args, {"--help", "--ttl"});
  std::string name = Need(args, 0, "a metric NAME");
  const std::string text = args.positionals.size() > 1 ? args.positionals[1] : "1";
  double amount = ParseNumber(text, "AMOUNT");
  NoMorePositionals(args, 2);
  FamilySpec spec = CheckFamilySpec(DeclareFrom(args, MetricType::kCounter, name));
  CheckLabels(spec, args.labels);
  CheckAmount(spec.name, Update::kCounterIncrement, amount, text);
  if (args.has_exemplar) CheckExemplar(spec.name, args.exemplar);
  Registry registry = Open(args);
  Counter counter = registry.Register<Counter>(spec).Add(args.labels);
  if (args.has_exemplar) counter.Increment(amount, args.exemplar);
  else counter.Increment(amount);
  return Finish(registry);
}

int Gauge(const Args& args, bool add) {
  AllowOptions(args, {"--help", "--ttl"});
  std::string name = Need(args, 0, "a metric NAME");
  const std::string text = Need(args, 1, add ? "a DELTA" : "a VALUE");
  double value = ParseNumber(text, add ? "DELTA" : "VALUE");
  NoMorePositionals(args, 2);
  FamilySpec spec = CheckFamilySpec(DeclareFrom(args, MetricType::kGauge, name));
  CheckLabels(spec, args.labels);
  CheckAmount(spec.name, add ? Update::kGaugeAdd : Update::kGaugeSet, value, text);
  Registry registry = Open(args);
  promsqlite::Gauge gauge = registry.Register<promsqlite::Gauge>(spec).Add(args.labels);
  if (add) gauge.Increment(value);
  else gauge.Set(value);
  return Finish(registry);
}

// A histogram declaration: --buckets and the --native-* options, else the
// file's declaration, else the default buckets. A native option without
// --buckets declares a native-only histogram.
FamilySpec HistogramSpec(const Args& args, const std::string& name, Registry* registry) {
  FamilySpec spec = DeclareFrom(args, MetricType::kHistogram, name);
  if (auto buckets = args.Option("--buckets")) spec.buckets = ParseNumberList(*buckets, "--buckets");
  const auto factor = args.Option("--native-factor");
  const auto zero = args.Option("--native-zero-threshold");
  const auto max_buckets = args.Option("--native-max-buckets");
  if ((zero || max_buckets) && !factor)
    throw UsageError("--native-zero-threshold and --native-max-buckets need --native-factor");
  if (factor) spec.native_bucket_factor = ParseNumber(*factor, "--native-factor");
  if (zero) spec.native_zero_threshold = ParseNumber(*zero, "--native-zero-threshold");
  if (max_buckets) {
    double n = ParseNumber(*max_buckets, "--native-max-buckets");
    if (n != std::floor(n) || std::fabs(n) > 1e9)
      throw UsageError("--native-max-buckets must be a whole number, got \"" + *max_buckets + "\"");
    spec.native_max_buckets = static_cast<int>(n);
  }
  spec = CheckFamilySpec(spec);
  if (registry && !args.Option("--buckets") && !factor) {
    if (auto stored = registry->Find(spec.name); stored && stored->type == MetricType::kHistogram) {
      spec.buckets = stored->buckets;
      spec.native_bucket_factor = stored->native_bucket_factor;
      spec.native_zero_threshold = stored->native_zero_threshold;
      spec.native_max_buckets = stored->native_max_buckets;
    }
  }
  return spec;
}

int Observe(const Args& args) {
  AllowOptions(args, {"--help", "--ttl", "--buckets", "--native-factor", "--native-zero-threshold",
                      "--native-max-buckets"});
  std::string name = Need(args, 0, "a metric NAME");
  const std::string text = Need(args, 1, "a VALUE");
  double value = ParseNumber(text, "VALUE");
  NoMorePositionals(args, 2);
  FamilySpec spec = HistogramSpec(args, name, nullptr);
  CheckLabels(spec, args.labels);
  CheckAmount(spec.name, Update::kObserve, value, text);
  if (args.has_exemplar) CheckExemplar(spec.name, args.exemplar);
  Registry registry = Open(args);
  Histogram histogram = registry.Register<Histogram>(HistogramSpec(args, name, &registry)).Add(args.labels);
  if (args.has_exemplar) histogram.Observe(value, args.exemplar);
  else histogram.Observe(value);
  return Finish(registry);
}

int Time(const Args& args) {
  AllowOptions(args, {"--help", "--ttl", "--buckets", "--native-factor", "--native-zero-threshold",
                      "--native-max-buckets"});
  std::string name = Need(args, 0, "a metric NAME");
  NoMorePositionals(args, 1);
  if (args.command_line.empty()) throw UsageError("time needs a COMMAND after --");
  FamilySpec histogram = HistogramSpec(args, name, nullptr);
  CheckLabels(histogram, args.labels);
  std::string base = histogram.name;
  if (base.size() > 8 && base.compare(base.size() - 8, 8, "_seconds") == 0) base.resize(base.size() - 8);
  Labels run_labels = args.labels;
  if (!run_labels.emplace("outcome", "success").second)
    throw UsageError("time adds the label \"outcome\" itself; do not pass it with --label");
  FamilySpec runs;
  runs.type = MetricType::kCounter;
  runs.name = base + "_runs";
  runs.help = "Runs of the command timed in " + histogram.name + ", by outcome.";
  runs.label_names = histogram.label_names;
  runs.label_names.push_back("outcome");
  runs = CheckFamilySpec(runs);

  // Declare before running, so a clash is reported before a long command.
  Registry registry = Open(args);
  Family<Histogram> seconds = registry.Register<Histogram>(HistogramSpec(args, name, &registry));
  Family<Counter> outcomes = registry.Register<Counter>(runs);

  TimedRun run = RunTimed(args.command_line);
  if (!run.started)
    std::fprintf(stderr, "promsqlite: cannot run \"%s\": %s\n", args.command_line[0].c_str(), run.start_error.c_str());
  try {
    run_labels["outcome"] = run.exit_status == 0 ? "success" : "failure";
    seconds.Add(args.labels).Observe(run.seconds);
    outcomes.Add(run_labels).Increment();
  } catch (const Error& e) {
    std::fprintf(stderr, "promsqlite: could not record the run: %s\n", InToolWords(e.what()).c_str());
  }
  Finish(registry);
  return run.exit_status;
}

int InfoCommand(const Args& args) {
  AllowOptions(args, {"--help", "--ttl"});
  std::string name = Need(args, 0, "a metric NAME");
  NoMorePositionals(args, 1);
  FamilySpec spec = CheckFamilySpec(DeclareFrom(args, MetricType::kInfo, name));
  CheckLabels(spec, args.labels);
  Registry registry = Open(args);
  registry.Register<Info>(spec).Add(args.labels);
  return Finish(registry);
}

int State(const Args& args) {
  AllowOptions(args, {"--help", "--ttl", "--states"});
  std::string name = Need(args, 0, "a metric NAME");
  std::string state = Need(args, 1, "a STATE");
  NoMorePositionals(args, 2);
  FamilySpec spec = DeclareFrom(args, MetricType::kStateSet, name);
  auto states = args.Option("--states");
  // Without --states, validate the name and labels against a stand-in state
  // list; the real list comes from the file.
  spec.states = states ? SplitList(*states) : std::vector<std::string>{state};
  spec = CheckFamilySpec(spec);
  CheckLabels(spec, args.labels);
  if (states && std::find(spec.states.begin(), spec.states.end(), state) == spec.states.end())
    throw InvalidArgument("metric '" + spec.name + "': state \"" + state + "\" is not among --states " + *states);
  Registry registry = Open(args);
  if (!states) {
    auto stored = registry.Find(spec.name);
    if (!stored || stored->type != MetricType::kStateSet)
      throw UsageError("state needs --states A,B,... to declare the new enum " + spec.name);
    spec.states = stored->states;
  }
  registry.Register<Enum>(spec).Add(args.labels).Set(state);
  return Finish(registry);
}

int Dump(const Args& args) {
  AllowOptions(args, {"--format"});
  NoMorePositionals(args, 0);
  Format format = Format::kText;
  try {
    if (auto name = args.Option("--format")) format = ParseFormat(*name);
  } catch (const InvalidArgument& e) {
    throw UsageError(std::string("--") + e.what());  // "--format must be text, ... got ..."
  }
  Reader reader(DatabasePath(args), Lenient());
  SkippedRows skipped;
  const int written = WriteOut(reader.Render(format, &skipped));
  return written != kExitOk ? written : ReportSkipped(reader.path(), skipped);
}

std::string OneLine(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else out += c;
  }
  return out;
}

int List(const Args& args) {
  AllowOptions(args, {});
  NoMorePositionals(args, 0);
  Reader reader(DatabasePath(args), Lenient());
  std::string out = "NAME\tTYPE\tSERIES\tLABELS\tHELP\n";
  SkippedRows skipped;
  for (const FamilySummary& family : reader.Families(&skipped)) {
    std::string labels;
    for (const std::string& l : family.spec.label_names) labels += (labels.empty() ? "" : ",") + l;
    out += family.spec.name + "\t" + MetricTypeName(family.spec.type) + "\t" + std::to_string(family.series) + "\t" +
           (labels.empty() ? "-" : labels) + "\t" + OneLine(family.spec.help) + "\n";
  }
  const int written = WriteOut(out);
  return written != kExitOk ? written : ReportSkipped(reader.path(), skipped);
}

// The rows of `rows` as check lists them, under a header.
std::string RowTable(const std::vector<UnreadableRow>& rows) {
  std::string out = "TABLE\tKEY\tFAMILY\tPROBLEM\n";
  for (const UnreadableRow& row : rows) out += row.table + "\t" + row.key + "\t" + row.family + "\t" + row.problem + "\n";
  return out;
}

int Check(const Args& args) {
  AllowOptions(args, {"--repair"});
  NoMorePositionals(args, 0);
  if (!args.Option("--repair")) {
    Reader reader(DatabasePath(args));
    const std::vector<UnreadableRow> rows = reader.Check();
    if (rows.empty()) return WriteOut("no unreadable rows\n");
    const int written = WriteOut(RowTable(rows));
    if (written != kExitOk) return written;
    std::fprintf(stderr, "promsqlite: %zu %s in %s cannot be read (promsqlite check --repair deletes %s)\n",
                 rows.size(), rows.size() == 1 ? "row" : "rows", reader.path().c_str(),
                 rows.size() == 1 ? "it" : "them");
    return kExitUnreadableRows;
  }
  Registry registry = OpenExisting(args);
  // Said inside the transaction, before the deletes: a listing that cannot
  // be written rolls them back.
  const std::string path = registry.path();
  const std::vector<UnreadableRow> deleted = registry.DeleteUnreadableRows([&](const std::vector<UnreadableRow>& rows) {
    if (WriteOut("deleting:\n" + RowTable(rows)) != kExitOk)
      throw DatabaseError(path + ": nothing deleted (the rows could not be listed first)");
  });
  if (deleted.empty()) return WriteOut("no unreadable rows\n");
  return WriteOut("deleted " + std::to_string(deleted.size()) + (deleted.size() == 1 ? " row" : " rows") +
                  " (and the series of a family deleted, the buckets and exemplars of a series)\n");
}

int Clear(const Args& args) {
  AllowOptions(args, {});
  std::string name = Need(args, 0, "a metric NAME");
  NoMorePositionals(args, 1);
  Registry registry = OpenExisting(args);
  if (!registry.ClearFamily(name)) throw NotFound("no metric '" + name + "' in " + registry.path());
  return kExitOk;
}

int Wipe(const Args& args) {
  AllowOptions(args, {});
  NoMorePositionals(args, 0);
  if (!args.yes) throw UsageError("wipe removes every metric in " + DatabasePath(args) + "; confirm with --yes");
  OpenExisting(args).Wipe();
  return kExitOk;
}

int Housekeep(const Args& args) {
  AllowOptions(args, {});
  NoMorePositionals(args, 0);
  HousekeepingReport r = OpenExisting(args).Housekeep();
  return WriteOut("expired_series " + std::to_string(r.expired_series) + "\ndead_process_series " +
                  std::to_string(r.dead_process_series) + "\ndead_writers " + std::to_string(r.dead_writers) +
                  "\norphaned_series " + std::to_string(r.orphaned_series) + "\ncomplete " +
                  (r.complete ? "yes" : "no") + "\n");
}

int Remove(const Args& args) {
  AllowOptions(args, {});
  std::string name = Need(args, 0, "a metric NAME");
  NoMorePositionals(args, 1);
  Registry registry = OpenExisting(args);
  auto family = registry.Find(name);
  if (!family) throw NotFound("no metric '" + name + "' in " + registry.path());
  if (args.labels.empty()) {
    registry.RemoveFamily(name);
    return kExitOk;
  }
  if (!registry.RemoveSeries(name, args.labels))
    throw NotFound("metric '" + family->name + "' has no series with these labels");
  return kExitOk;
}

}  // namespace

std::string DatabasePath(const Args& args) {
  if (auto db = args.Option("--db")) {
    if (db->empty()) throw UsageError("--db needs a file name, got \"\"");
    return *db;
  }
  if (const char* env = std::getenv("PROMSQLITE_DB"); env && *env) return env;
  // No default in the working folder: from cron or CI, where that folder
  // varies, metrics would scatter into stray files.
  throw UsageError("no promsqlite file chosen: give --db FILE or set the environment variable PROMSQLITE_DB");
}

std::string InToolWords(std::string message) {
  const std::string aside = " (and create_if_missing is false)";  // OpenExisting says it first
  if (size_t at = message.find(aside); at != std::string::npos) message.erase(at, aside.size());
  for (size_t at; (at = message.find("Options::")) != std::string::npos;) {
    size_t end = at + 9;
    while (end < message.size() && (std::isalnum(static_cast<unsigned char>(message[end])) || message[end] == '_'))
      ++end;
    if (at >= 2 && message.compare(at - 2, 2, " (") == 0 && end < message.size() && message[end] == ')')
      message.erase(at - 2, end + 1 - (at - 2));  // " (Options::x)"
    else if (message.compare(end, 2, ", ") == 0)
      message.erase(at, end + 2 - at);  // "Options::x, " in a list of ways
    else
      message.erase(at, 9);  // at least not the C++ scope
  }
  return message;
}

int RunCommand(const Args& args) {
  const std::string& c = args.command;
  // Every command reads or writes the file: without one chosen, that is
  // the error, whatever else is wrong with the arguments.
  if (Commands().count(c)) DatabasePath(args);
  if (args.has_exemplar && c != "inc" && c != "observe" && !c.empty() && Commands().count(c))
    throw UsageError("--exemplar is for inc and observe, not " + c);
  if (c == "inc") return Inc(args);
  if (c == "set") return Gauge(args, false);
  if (c == "add") return Gauge(args, true);
  if (c == "observe") return Observe(args);
  if (c == "time") return Time(args);
  if (c == "info") return InfoCommand(args);
  if (c == "state") return State(args);
  if (c == "dump") return Dump(args);
  if (c == "list") return List(args);
  if (c == "check") return Check(args);
  if (c == "rm") return Remove(args);
  if (c == "clear") return Clear(args);
  if (c == "wipe") return Wipe(args);
  if (c == "housekeep") return Housekeep(args);
  if (c == "push") return PushCommand(args);
  if (c == "remote-write") return RemoteWriteCommand(args);
  throw UsageError(c.empty() ? "no command given" : "unknown command \"" + c + "\"");
}

std::string Usage(const std::string& command) {
  auto it = Commands().find(command);
  if (it != Commands().end())
    return std::string("usage: promsqlite [--db FILE] ") + it->second.synopsis + "\n\n" + it->second.description +
           "\n\nLabel values and help texts are taken literally. --help=TEXT sets a help text that\n"
           "starts with \"--\". --ttl SECONDS (write commands) expires series not updated for that\n"
           "long. The file is --db FILE, else $PROMSQLITE_DB (one of them is required). Run\n"
           "'promsqlite --help' for the exit codes.\n";
  std::string out =
      "usage: promsqlite [--db FILE] COMMAND [ARGS...]\n\n"
      "Writes Prometheus metrics into a promsqlite file shared by all processes of a host,\n"
      "with the same semantics as the C++ library, and reads it back.\n\nCommands:\n";
  for (const auto& [name, info] : Commands()) out += "  " + std::string(info.synopsis) + "\n";
  out +=
      "\nOptions:\n"
      "  --db FILE       the file (before or after COMMAND), else $PROMSQLITE_DB; without either, every\n"
      "                  command exits 2 before it looks at its arguments (there is no default file)\n"
      "  --mode MODE     permission bits (octal, e.g. 0660) of the file when a command creates it, whatever\n"
      "                  the umask; default $PROMSQLITE_MODE, else 0644 minus the umask (docs/permissions.md)\n"
      "  --synchronous normal|full\n"
      "                  normal (default): an update is in the file when the command exits and survives\n"
      "                  it; a power loss may take the last ones (never corrupting the file). full: every\n"
      "                  update is synced to the device first, which costs a flush per update. Default\n"
      "                  $PROMSQLITE_SYNCHRONOUS, else normal (docs/reliability.md)\n"
      "  -h, --help      this help, or a command's ('promsqlite inc --help')\n"
      "  --version       promsqlite and SQLite versions\n"
      "\nExit codes:\n"
      "  0    success\n"
      "  1    database error: the file cannot be opened, read or written\n"
      "  2    usage error: unknown command or option, missing or malformed argument, no file\n"
      "       chosen (--db FILE or PROMSQLITE_DB)\n"
      "  3    invalid input: rejected name, label or value, a clash with the file's declaration,\n"
      "       or (rm) no such metric or series\n"
      "  4    push, remote-write: the endpoint refused the data or could not be reached after\n"
      "       the retries (the line on stderr has its HTTP status and reason)\n"
      "  5    dump, list: printed everything but rows of the file that cannot be read (named on\n"
      "       stderr); check: the file has such rows (listed)\n"
      "  time exits with COMMAND's status (128+N if killed by signal N, 127 if not started)\n"
      "Nothing is written when the exit code is 1, 2 or 3.\n";
  return out;
}

}  // namespace promsqlite::cli
