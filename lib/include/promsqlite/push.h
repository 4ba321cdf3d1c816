// Sending a promsqlite file to a Prometheus Pushgateway or to a
// remote-write 1.0 receiver (Prometheus, Mimir, Thanos, VictoriaMetrics...),
// for hosts that a Prometheus server cannot scrape: batch jobs, CI runners,
// machines behind NAT. See docs/multi-host.md.
//
//   promsqlite::Reader reader("/var/lib/app/metrics.db");
//   promsqlite::PushOptions push;
//   push.url = "http://pushgateway:9091";
//   push.job = "nightly_backup";
//   push.grouping = {{"instance", "runner-7"}};
//   promsqlite::PushToGateway(reader, push);  // throws PushError
//
// Part of the separate library promsqlite_push (link it in addition to
// promsqlite); it exists only when protobuf, snappy and cpp-httplib were
// found at build time.
//
// Thread safety: the functions share nothing; calls on one Reader are
// serialized by the Reader. Cost: one render (push) or snapshot
// (remote-write) of the whole file into memory,
// then one HTTP request per attempt; blocks the caller for at most about
// attempts x timeout plus the backoff sleeps.
#ifndef PROMSQLITE_PUSH_H_
#define PROMSQLITE_PUSH_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "promsqlite/errors.h"
#include "promsqlite/reader.h"

namespace promsqlite {

// A push or remote-write that did not succeed, after the retries it was
// allowed. status is the last HTTP status (0 when no answer came: refused,
// unreachable, timed out, TLS failure); the message names the URL, the
// status or network error, and the peer's own explanation (its body).
class PushError : public Error {
 public:
  PushError(const std::string& message, int status, std::string peer_message)
      : Error(message), status_(status), peer_message_(std::move(peer_message)) {}
  int status() const { return status_; }
  const std::string& peer_message() const { return peer_message_; }

 private:
  int status_;
  std::string peer_message_;
};

// What the two kinds of push share: the connection, authentication, retries.
struct HttpOptions {
  // The endpoint: "http://host:port" or "https://host:port", optionally with
  // a path prefix (gateway) or the full path (remote-write,
  // e.g. "http://prometheus:9090/api/v1/write"). Required. Default: "".
  std::string url;

  // Connect, send and receive timeout of one attempt, in seconds.
  // Default: 10.
  double timeout_seconds = 10;

  // Further attempts after a failure that may be transient (no answer,
  // timeout, 5xx, 429). A 4xx other than 429 is never retried: sending the
  // same data again would be refused again. Default: 2.
  int retries = 2;

  // Sleep before the first retry; doubled for each further one and capped
  // at max_backoff_seconds, so the total wait stays bounded. Default: 0.5.
  double initial_backoff_seconds = 0.5;

  // Upper bound of one backoff sleep. Default: 5.
  double max_backoff_seconds = 5;

  // HTTP basic authentication; used when basic_auth_user is not empty.
  // (The CLI reads the password from a file, --basic-auth-password-file.)
  // Default: "" (none).
  std::string basic_auth_user;
  std::string basic_auth_password;

  // "Authorization: Bearer <token>"; used when not empty. Setting it and
  // basic_auth_user is an InvalidArgument. Default: "" (none).
  std::string bearer_token;

  // PEM file of the CA(s) that sign an https server's certificate. Default:
  // "" (the system's CA store). The server certificate is always verified.
  std::string ca_file;
};

enum class PushMethod {
  kPut,   // replaces every metric of the group
  kPost,  // replaces only the metric names pushed, keeps the group's others
};

// A push to a Prometheus Pushgateway.
struct PushOptions : HttpOptions {
  // The job label of the group; any UTF-8 text, not empty. Required.
  // Default: "".
  std::string job;

  // Further labels identifying the group, in URL order (e.g. instance).
  // Names follow the label-name rule; values may be any UTF-8 text (values
  // that are empty or have characters other than [A-Za-z0-9._~-], such as
  // '/', are sent in the gateway's @base64 form).
  // Default: none.
  std::vector<std::pair<std::string, std::string>> grouping;

  // Default: PushMethod::kPut, so series removed from the file disappear
  // from the gateway too.
  PushMethod method = PushMethod::kPut;

  // Send the body gzip-compressed (Content-Encoding: gzip). Default: false.
  bool gzip = false;
};

// Reads a secret (a password, a bearer token) from the file at `path`, as
// Prometheus reads password_file and bearer_token_file: the whole file,
// trailing newlines (as `echo` writes them) stripped. Throws
// InvalidArgument naming the file when it cannot be read or holds nothing.
// Secrets come from files so they do not show in `ps` or shell histories.
std::string ReadSecretFile(const std::string& path);

// Renders `reader`'s file as text 0.0.4 and pushes it to the group
// job/grouping. Throws PushError when the gateway refuses it (with the
// gateway's reason, e.g. a type clash with another group) or cannot be
// reached after the retries; InvalidArgument for malformed options;
// DatabaseError when the file cannot be read.
void PushToGateway(Reader& reader, const PushOptions& options);

// A push to a Prometheus remote-write 1.0 receiver.
struct RemoteWriteOptions : HttpOptions {
  // Labels added to every series, e.g. {{"instance", "runner-7"}}. Counters
  // from several hosts must differ in at least one label: otherwise their
  // samples land in one series, whose value jumps between the hosts' totals
  // and which rate() reads as resets. A label the file already has is
  // overridden. Default: none.
  std::vector<std::pair<std::string, std::string>> extra_labels;

  // Timestamp of every sample, in milliseconds since the Unix epoch.
  // Default: 0, which means the time of the call.
  long long timestamp_ms = 0;

  // Send native histograms as native histogram samples. Receivers refuse a
  // whole request that holds one unless they accept them (Prometheus:
  // --enable-feature=native-histograms), so, as Prometheus' own
  // remote_write setting send_native_histograms, this is off unless asked:
  // a histogram with classic buckets then sends those (NAME_bucket, _sum,
  // _count); a native-only histogram sends what the text format shows of
  // it (its +Inf bucket, _sum and _count: rate and average still work).
  // Default: false.
  bool send_native_histograms = false;
};

// What one RemoteWrite sent.
struct RemoteWriteResult {
  int64_t samples = 0;     // float samples
  int64_t histograms = 0;  // native histogram samples
  int64_t exemplars = 0;   // of counters and classic buckets
};

// Reads `reader`'s file (one Snapshot(): one read transaction), turns every
// sample into a series (classic histograms and summaries into their
// _bucket, _sum and _count series; counters as NAME_total; with
// send_native_histograms, a native histogram into one native histogram
// sample of series NAME, beside its classic series when it has classic
// buckets too) with the type and help as
// metadata (per family, named as the text format names it; info and enum
// families get the metadata types INFO and STATESET), the exemplars of
// counters and classic buckets with their series (Prometheus stores them
// with --enable-feature=exemplar-storage), and sends one snappy-compressed
// protobuf WriteRequest. Retries follow the remote-write spec (HttpOptions:
// no answer, 5xx and 429 with backoff; any other 4xx drops the request at
// once). Throws as PushToGateway does; the PushError's message then carries
// the receiver's reason and, for the causes it knows (native histograms
// disabled, out-of-order or duplicate samples, a receiver not enabled),
// what to do.
RemoteWriteResult RemoteWrite(Reader& reader, const RemoteWriteOptions& options);

}  // namespace promsqlite

#endif  // PROMSQLITE_PUSH_H_
