#include "test_helper.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "promsqlite/promsqlite.h"

namespace server_test {

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::runtime_error(std::string("environment variable ") + name + " is not set (run the tests with meson test)");
  return v;
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> args) : args_(std::move(args)) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && exit_status_ < 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
}

bool ServerProcess::Start() {
  bool has_address = false;
  for (const auto& a : args_) {
    if (a.rfind("--listen", 0) == 0 || a.rfind("--web.listen-address", 0) == 0) has_address = true;
  }
  std::vector<std::string> argv = {ServerBinary()};
  if (!has_address) {
    argv.push_back("--listen");
    argv.push_back("127.0.0.1:0");
  }
  argv.insert(argv.end(), args_.begin(), args_.end());
  std::string err = dir_.File("stderr"), out = dir_.File("stdout");
  pid_ = fork();
  if (pid_ == 0) {
    int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(e, 2);
    dup2(o, 1);
    std::vector<char*> cargs;
    for (auto& a : argv) cargs.push_back(const_cast<char*>(a.c_str()));
    cargs.push_back(nullptr);
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string log = Log();
    size_t pos = log.find("msg=listening address=");
    if (pos != std::string::npos) {
      size_t end = log.find(' ', pos + 22);
      std::string address = log.substr(pos + 22, end - pos - 22);
      port_ = std::atoi(address.substr(address.rfind(':') + 1).c_str());
      return port_ > 0;
    }
    if (!Running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

bool ServerProcess::Running() {
  if (exit_status_ >= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_status_ = promsqlite::test::ExitCode(status);
  return false;
}

int ServerProcess::Stop(int sig) {
  if (!Running()) return exit_status_;
  kill(pid_, sig);
  return Wait();
}

int ServerProcess::Wait() {
  if (!Running()) return exit_status_;
  const int code = promsqlite::test::WaitForExit(pid_, 20);
  if (code >= 0) exit_status_ = code;
  return code;
}

std::string ServerProcess::Log() const { return ReadAll(dir_.File("stderr")); }
std::string ServerProcess::Stdout() const { return ReadAll(dir_.File("stdout")); }

httplib::Client Client(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_decompress(false);
  client.set_read_timeout(20, 0);
  return client;
}

std::string ServerBinary() { return Env("PROMSQLITE_SERVER"); }
std::string SharedTool(const std::string& name) { return Env("SHARED_TOOLS") + "/" + name; }

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

int RunCommand(const std::string& command, std::string* output, const std::string& input) {
  TempDir dir;
  std::string in = dir.File("in"), out = dir.File("out");
  std::ofstream(in, std::ios::binary) << input;
  int status = std::system((command + " <" + Quote(in) + " >" + Quote(out) + " 2>&1").c_str());
  *output = ReadAll(out);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void WriteSampleFile(const std::string& path) {
  promsqlite::Registry registry(path);
  auto requests = promsqlite::BuildCounter().Name("sample_requests_total").Help("Requests handled.")
                      .LabelNames({"method", "code"}).Register(registry);
  requests.WithLabelValues({"GET", "200"}).Increment(42);
  requests.WithLabelValues({"POST", "500"}).Increment(3);
  auto queue = promsqlite::BuildGauge().Name("sample_queue_depth").Help("Jobs \"waiting\"\\queued.\nSecond line.")
                   .Register(registry);
  queue.WithLabelValues({}).Set(-7.5);
  auto latency = promsqlite::BuildHistogram().Name("sample_latency_seconds").Help("Latency.")
                     .Unit("seconds").LabelNames({"route"}).Buckets({0.1, 0.5, 1}).Register(registry);
  for (double v : {0.05, 0.2, 0.7, 3.0}) latency.WithLabelValues({"/api"}).Observe(v);
  auto sizes = promsqlite::BuildSummary().Name("sample_payload_bytes").Help("Payload sizes.")
                   .Register(registry);
  sizes.WithLabelValues({}).Observe(1024);
  auto build = promsqlite::BuildInfo().Name("sample_build").Help("Build.")
                   .LabelNames({"version", "note"}).Register(registry);
  build.WithLabelValues({"1.2.3", "quote\" backslash\\ newline\n utf8 \xc3\xbc\xe2\x82\xac"});
  auto state = promsqlite::BuildEnum().Name("sample_state").Help("State.")
                   .States({"starting", "serving"}).Register(registry);
  state.WithLabelValues({}).Set("serving");
}

void WriteLargeFile(const std::string& path, int families, int series) {
  promsqlite::Options batched;  // one transaction for everything: fast to write
  batched.write_mode = promsqlite::WriteMode::kBatched;
  promsqlite::Registry registry(path, batched);
  for (int f = 0; f < families; ++f) {
    auto family = promsqlite::BuildGauge().Name("large_gauge_" + std::to_string(f))
                      .Help("A gauge of the large file.").LabelNames({"instance", "shard"})
                      .Register(registry);
    for (int s = 0; s < series; ++s)
      family.WithLabelValues({"host-" + std::to_string(s) + ".example.org:9100", std::to_string(s % 17)})
          .Set(s * 1.5);
  }
  registry.Flush();
}

std::string BcryptHash(const std::string& password) {
  auto data = std::make_unique<crypt_data>();
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", 5, nullptr, 0, salt, sizeof(salt)))
    throw std::runtime_error("crypt_gensalt_rn failed");
  const char* hash = crypt_rn(password.c_str(), salt, data.get(), sizeof(crypt_data));
  if (!hash || hash[0] == '*') throw std::runtime_error("crypt_rn failed");
  return hash;
}

std::string Gunzip(const std::string& data) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof(buf);
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      throw std::runtime_error("not valid gzip");
    }
    out.append(buf, sizeof(buf) - zs.avail_out);
    if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      throw std::runtime_error("truncated gzip");
    }
  }
  inflateEnd(&zs);
  return out;
}

std::string RawRequest(int port, const std::string& request, int timeout_s, int read_delay_ms) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (read_delay_ms > 0) {
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  timeval tv{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  if (read_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(read_delay_ms));
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

long PeakRssKib(pid_t pid) {
  std::string status = ReadAll("/proc/" + std::to_string(pid) + "/status");
  size_t pos = status.find("VmHWM:");
  return pos == std::string::npos ? -1 : std::atol(status.c_str() + pos + 6);
}

}  // namespace server_test
