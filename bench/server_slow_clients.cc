// promsqlite-server beside clients that hold connections open slowly:
// --clients connections that each send a partial request and then a byte
// every 2 s (slowloris), or that send a whole request and then read the
// response a byte a second (slowread), reconnecting whenever the server
// closes them. Meanwhile a normal scraper scrapes /metrics, a new
// connection each time (as Prometheus does once the server's 5 s idle
// timeout has closed the last one). Reports the scrapes' p99 latency, the
// server's peak RSS and the scrapes that failed (no complete 200 within
// Prometheus' default scrape timeout, 10 s).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "benchmarks.h"

namespace bench {
namespace {

constexpr double kScrapeTimeout = 10;  // Prometheus' default scrape_timeout

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A field of /proc/PID/status in KiB (VmRSS, VmHWM); -1 when unreadable.
long StatusKib(pid_t pid, const char* field) {
  std::string status = ReadFile("/proc/" + std::to_string(pid) + "/status");
  size_t pos = status.find(field);
  return pos == std::string::npos ? -1 : std::atol(status.c_str() + pos + std::strlen(field) + 1);
}

int CountOpenFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
    ++n;
  return n;
}

// promsqlite-server as a child on 127.0.0.1, a port of its choosing.
class ServerChild {
 public:
  ServerChild(const std::string& binary, const std::vector<std::string>& args, const std::string& log)
      : log_(log) {
    std::ofstream(log, std::ios::trunc).flush();  // not the last run's address
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) dup2(fd, 2);
      std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    double deadline = NowSeconds() + 20;
    while (NowSeconds() < deadline) {
      std::string text = ReadFile(log);
      size_t pos = text.find("msg=listening address=");
      if (pos != std::string::npos) {
        size_t end = text.find(' ', pos + 22);
        std::string address = text.substr(pos + 22, end - pos - 22);
        port_ = std::atoi(address.substr(address.rfind(':') + 1).c_str());
        return;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("promsqlite-server exited at start: " + text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    throw std::runtime_error("promsqlite-server did not log its address within 20 s");
  }
  ~ServerChild() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string Log() const { return ReadFile(log_); }

 private:
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A TCP connection to 127.0.0.1:port, non-blocking once connected; -1 on
// failure. `receive_buffer` > 0 shrinks SO_RCVBUF, so that a response stays
// in flight.
int Connect(int port, int receive_buffer) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// One normal scrape on a new connection: seconds until the server closed it
// after a complete 200 response; -1 when it failed or took longer than the
// scrape timeout. *body gets the response.
double Scrape(int port, size_t* bytes, std::string* body = nullptr) {
  const double start = NowSeconds();
  int fd = Connect(port, 0);
  if (fd < 0) return -1;
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return -1;
  }
  std::string response;
  char buf[65536];
  for (;;) {
    int left_ms = static_cast<int>((start + kScrapeTimeout - NowSeconds()) * 1000);
    pollfd p{fd, POLLIN, 0};
    if (left_ms <= 0 || poll(&p, 1, left_ms) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
    if (response.size() >= 5 && response.compare(response.size() - 5, 5, "0\r\n\r\n") == 0) break;
  }
  close(fd);
  const double took = NowSeconds() - start;
  *bytes = response.size();
  if (body) *body = response;
  const bool whole = response.rfind("HTTP/1.1 200 ", 0) == 0 && response.size() >= 5 &&
                     response.compare(response.size() - 5, 5, "0\r\n\r\n") == 0;
  return whole && took <= kScrapeTimeout ? took : -1;
}

// Keeps `count` misbehaving connections open on one thread until stopped.
class SlowClients {
 public:
  SlowClients(int port, bool slowloris, int count) : port_(port), slowloris_(slowloris), slots_(count) {
    thread_ = std::thread([this] { Run(); });
  }
  ~SlowClients() {
    stop_ = true;
    thread_.join();
    for (auto& s : slots_) {
      if (s.fd >= 0) close(s.fd);
    }
  }
  int open() const { return open_; }
  long reconnects() const { return reconnects_; }
  long failed_connects() const { return failed_connects_; }
  bool all_opened() const { return all_opened_; }

 private:
  struct Slot {
    int fd = -1;
    double next = 0;  // when it sends or reads its next byte
    bool ever = false;
  };

  void Open(Slot& s, double now) {
    s.fd = Connect(port_, slowloris_ ? 0 : 4096);
    if (s.fd < 0) {
      ++failed_connects_;
      s.next = now + 0.1;
      return;
    }
    if (s.ever) ++reconnects_;
    s.ever = true;
    const std::string first = slowloris_ ? "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
                                         : "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
    if (send(s.fd, first.data(), first.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(first.size())) {
      Drop(s, now);
      return;
    }
    ++open_;
    s.next = now + (slowloris_ ? 2.0 : 1.0) * std::uniform_real_distribution<double>(0.1, 1)(rng_);
  }

  void Drop(Slot& s, double now) {
    if (s.fd >= 0) {
      close(s.fd);
      s.fd = -1;
    }
    s.next = now;  // reconnect at once
  }

  // The server closed it?
  bool Closed(int fd) {
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  void Step(Slot& s, double now) {
    if (s.fd < 0) {
      Open(s, now);
      return;
    }
    if (slowloris_) {
      if (Closed(s.fd) || send(s.fd, "a", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
        --open_;
        Drop(s, now);
        return;
      }
      s.next = now + 2.0;
    } else {
      char c;
      ssize_t n = recv(s.fd, &c, 1, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        --open_;
        Drop(s, now);
        return;
      }
      s.next = now + 1.0;
    }
  }

  void Run() {
    double now = NowSeconds();
    for (auto& s : slots_) {  // all at once first
      if (stop_) return;
      Open(s, now);
      now = NowSeconds();
    }
    all_opened_ = true;
    while (!stop_) {
      now = NowSeconds();
      for (auto& s : slots_) {
        if (s.next <= now) Step(s, now);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  const int port_;
  const bool slowloris_;
  std::vector<Slot> slots_;
  std::mt19937 rng_{7};
  std::atomic<bool> stop_{false};
  std::atomic<bool> all_opened_{false};
  std::atomic<int> open_{0};
  std::atomic<long> reconnects_{0};
  std::atomic<long> failed_connects_{0};
  std::thread thread_;
};

// The value of the sample `series` in an exposition; -1 if none.
double SampleValue(const std::string& response, const std::string& series) {
  const std::string line = "\n" + series + " ";
  size_t pos = response.find(line);
  return pos == std::string::npos ? -1 : std::atof(response.c_str() + pos + line.size());
}

// The server's lines about its connections in a scrape, on one line.
std::string ConnectionLines(const std::string& response) {
  std::string out;
  std::istringstream in(response);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("promsqlite_server_connections", 0) == 0 ||
        line.rfind("promsqlite_server_waiting_response_bytes", 0) == 0) {
      if (line.find("} 0") != std::string::npos) continue;  // a reason that never happened
      out += (out.empty() ? "" : ", ") + line;
    }
  }
  return out;
}

// Scrapes every interval for `seconds`; the latencies in ms (failures at
// the scrape timeout), *failures counts them.
std::vector<double> ScrapeLoop(int port, double seconds, int interval_ms, int* failures,
                               const std::function<void(int)>& each = nullptr) {
  std::vector<double> latencies_ms;
  size_t bytes = 0;
  const double start = NowSeconds();
  double next = start;
  while (NowSeconds() - start < seconds) {
    double took = Scrape(port, &bytes);
    if (took < 0) {
      ++*failures;
      took = kScrapeTimeout;
    }
    latencies_ms.push_back(took * 1e3);
    if (each) each(static_cast<int>(latencies_ms.size()));
    next += interval_ms / 1e3;
    double wait = next - NowSeconds();
    if (wait > 0) std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long>(wait * 1e6)));
  }
  return latencies_ms;
}

std::string Summary(std::vector<double> latencies_ms) {
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::vector<double> copy = latencies_ms;
  char buf[160];
  std::snprintf(buf, sizeof buf, "p50 %.1f ms, p99 %.1f ms, max %.1f ms", Percentile(copy, 0.5),
                Percentile(copy, 0.99), latencies_ms.empty() ? 0 : latencies_ms.back());
  return buf;
}

std::vector<std::string> Split(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string word; in >> word;) out.push_back(word);
  return out;
}

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

}  // namespace

int RunServerSlowClients(const Flags& flags) {
  const std::string binary = flags.Get("server", "");
  const std::string db = flags.Get("db", "");
  const std::string dir = flags.Get("dir", "/tmp");
  const std::string kind = flags.Get("kind", "slowloris");
  const int clients = flags.Int("clients", 1000);
  const double seconds = flags.Double("seconds", 10);
  const double settle = flags.Double("settle", 1);
  const int interval_ms = flags.Int("interval-ms", 50);
  const std::string prefix = flags.Get("prefix", "server_" + kind);
  if (binary.empty() || db.empty()) throw std::invalid_argument("server-slow-clients needs --server PATH --db FILE");
  if (kind != "slowloris" && kind != "slowread")
    throw std::invalid_argument("--kind must be slowloris or slowread, not " + kind);

  // Our end of the connections needs file descriptors too.
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < static_cast<rlim_t>(clients) + 64)
    throw std::runtime_error("the open-file limit (" + std::to_string(limit.rlim_cur) + ") is too low for " +
                             std::to_string(clients) + " connections: raise it (ulimit -Hn)");

  std::vector<std::string> args = {"--db", db, "--listen", "127.0.0.1:0"};
  for (const auto& a : Split(flags.Get("server-args", ""))) args.push_back(a);
  ServerChild server(binary, args, dir + "/" + prefix + "-server.log");
  const int idle_fds = CountOpenFds(server.pid());

  size_t bytes = 0;
  for (int i = 0; i < 20 && Scrape(server.port(), &bytes) < 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const double alone = Scrape(server.port(), &bytes);
  Note(prefix + ": " + std::to_string(bytes) + " bytes per scrape; alone " + Fixed(alone * 1e3, 1) + " ms; " +
       std::to_string(clients) + " " + kind + " clients, server flags: " + flags.Get("server-args", "(defaults)"));

  int baseline_failures = 0;
  const std::vector<double> baseline =
      ScrapeLoop(server.port(), std::min(seconds, 3.0), interval_ms, &baseline_failures);
  Note(prefix + ": without slow clients, " + std::to_string(baseline.size()) + " scrapes: " + Summary(baseline) +
       ", failed " + std::to_string(baseline_failures));

  std::string counted;
  Scrape(server.port(), &bytes, &counted);
  const double before = SampleValue(counted, "promsqlite_server_scrapes_total");  // answered before this one

  std::vector<double> latencies_ms;
  int failures = 0;
  int server_fds = 0;
  long peak_rss_kib = 0;
  {
    SlowClients slow(server.port(), kind == "slowloris", clients);
    const double opening_deadline = NowSeconds() + 60;
    while (!slow.all_opened() && NowSeconds() < opening_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (!slow.all_opened()) throw std::runtime_error(prefix + ": could not open the connections within 60 s");
    if (kind == "slowread") {
      // Their requests are complete: the server renders each once, a burst
      // of as many scrapes, which the figures leave out (a flood of
      // requests, not slowness). Counted by the server's own counter.
      const double opened = NowSeconds();
      double served = 0;
      while (served < before + clients && NowSeconds() - opened < 60) {
        std::string body;
        Scrape(server.port(), &bytes, &body);
        served = SampleValue(body, "promsqlite_server_scrapes_total");
        if (served < before + clients) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      Note(prefix + ": the server answered the " + std::to_string(clients) + " slow readers' requests within " +
           Fixed(NowSeconds() - opened, 1) + " s of their connects");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(settle * 1000)));

    std::atomic<bool> sampling{true};
    std::atomic<long> rss_max{0};
    std::thread sampler([&] {
      while (sampling) {
        rss_max = std::max(rss_max.load(), StatusKib(server.pid(), "VmRSS:"));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
    latencies_ms = ScrapeLoop(server.port(), seconds, interval_ms, &failures, [&](int n) {
      if (n == 1 || n % 50 == 0) server_fds = std::max(server_fds, CountOpenFds(server.pid()));
    });
    sampling = false;
    sampler.join();
    std::string last;
    Scrape(server.port(), &bytes, &last);
    Note(prefix + ": slow connections open at the end " + std::to_string(slow.open()) + ", reconnects " +
         std::to_string(slow.reconnects()) + ", refused connects " + std::to_string(slow.failed_connects()) +
         "; the server's open fds: " + std::to_string(server_fds) + " (idle: " + std::to_string(idle_fds) + ")");
    Note(prefix + ": the server says: " + ConnectionLines(last));
    peak_rss_kib = std::max({rss_max.load(), StatusKib(server.pid(), "VmHWM:")});
  }

  std::vector<double> copy = latencies_ms;
  const double p99 = Percentile(copy, 0.99);
  Note(prefix + ": " + std::to_string(latencies_ms.size()) + " scrapes every " + std::to_string(interval_ms) +
       " ms for " + Fixed(seconds, 0) + " s beside them: " + Summary(latencies_ms) + ", failed " +
       std::to_string(failures));
  const std::string log = server.Log();
  size_t limit_lines = 0;
  for (size_t pos = log.find("level=warn"); pos != std::string::npos; pos = log.find("level=warn", pos + 1))
    ++limit_lines;
  if (limit_lines) Note(prefix + ": the server logged " + std::to_string(limit_lines) + " warnings (limits)");
  Report(prefix + "_scrape_p99_ms", p99);
  Report(prefix + "_rss_mib", static_cast<double>(peak_rss_kib) / 1024);
  Report(prefix + "_scrape_failures", failures);
  return 0;
}

}  // namespace bench
