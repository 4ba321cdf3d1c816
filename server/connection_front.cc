#include "connection_front.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <vector>

#include "log.h"
#include "request_scan.h"

namespace promsqlite_server {

namespace {

using Clock = std::chrono::steady_clock;

// How often the event thread looks for connections past their deadline.
constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// What the event thread reads at once.
constexpr size_t kReadChunk = 64 * 1024;
// A render thread waits for a client that takes its response more slowly
// than it is made only while the client takes bytes at least this often
// (a TCP connection that loses a packet recovers well within it).
constexpr std::chrono::milliseconds kStallLimit{2000};
// How long in all, per response, a render thread without a waiting slot
// waits so.
constexpr std::chrono::milliseconds kImpatientWait{1000};
// The largest TLS record: a TLS write is retried with the same bytes, so
// each write is one record at most.
constexpr size_t kTlsRecord = 16 * 1024;
// How long a render thread waits for the event thread to make room in the
// response budget.
constexpr std::chrono::milliseconds kReliefWait{50};

// Rounded up, so that a wait until `t` does not end just before it.
int MillisecondsUntil(Clock::time_point t) {
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - Clock::now()).count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms, INT_MAX));
}

std::string Describe(const sockaddr_storage& addr, int* port) {
  char buf[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    inet_ntop(AF_INET, &a.sin_addr, buf, sizeof(buf));
    if (port) *port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
      inet_ntop(AF_INET, &a.sin6_addr.s6_addr[12], buf, sizeof(buf));  // one client, one address
    } else {
      inet_ntop(AF_INET6, &a.sin6_addr, buf, sizeof(buf));
    }
    if (port) *port = ntohs(a.sin6_port);
  }
  return buf;
}

// A limit's warning: the first time it is hit, then at most once a minute,
// with how often it was hit since the previous line (times). `flag` names
// the flag that sets the limit; null for a fixed memory budget.
class LimitLog {
 public:
  LimitLog(const char* msg, const char* flag) : msg_(msg), flag_(flag) {}

  uint64_t hits() const { return hits_.load(); }

  void Hit(std::string_view address, size_t max) {
    hits_.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu_);
    ++times_;
    const auto now = Clock::now();
    if (logged_ && now - last_line_ < std::chrono::minutes(1)) return;
    const std::string max_text = std::to_string(max), times = std::to_string(times_);
    if (flag_) Log(LogLevel::kWarn, msg_, {{"address", address}, {"max", max_text}, {"flag", flag_}, {"times", times}});
    else Log(LogLevel::kWarn, msg_, {{"address", address}, {"max_bytes", max_text}, {"times", times}});
    logged_ = true;
    last_line_ = now;
    times_ = 0;
  }

 private:
  const char* const msg_;
  const char* const flag_;
  std::atomic<uint64_t> hits_{0};
  std::mutex mu_;
  bool logged_ = false;
  Clock::time_point last_line_;
  size_t times_ = 0;
};

// The 64 KiB blocks of OutputQueue, mapped from the kernel and unmapped
// beyond a small pool: freed response memory leaves the process instead of
// staying in the allocator's per-thread arenas (with malloc, 40 slow readers
// of 7 MB responses left the server at 110 MiB, with these at 88).
class BlockPool {
 public:
  static constexpr size_t kBlock = 64 * 1024;

  static char* Take() {
    {
      std::lock_guard<std::mutex> lock(mu());
      auto& free = blocks();
      if (!free.empty()) {
        char* block = free.back();
        free.pop_back();
        return block;
      }
    }
    void* p = mmap(nullptr, kBlock, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<char*>(p);
  }

  static void Give(char* block) {
    {
      std::lock_guard<std::mutex> lock(mu());
      auto& free = blocks();
      if (free.size() < kKept) {
        free.push_back(block);
        return;
      }
    }
    munmap(block, kBlock);
  }

 private:
  static constexpr size_t kKept = 64;  // 4 MiB
  static std::mutex& mu() {
    static std::mutex m;
    return m;
  }
  static std::vector<char*>& blocks() {
    static std::vector<char*> b;
    return b;
  }
};

// Response bytes a client has not taken yet, in blocks of 64 KiB, so that
// the memory they hold follows their size.
class OutputQueue {
 public:
  OutputQueue() = default;
  ~OutputQueue() { Clear(); }
  OutputQueue(const OutputQueue&) = delete;
  OutputQueue& operator=(const OutputQueue&) = delete;

  size_t size() const { return size_; }

  void Append(std::string_view data) {
    while (!data.empty()) {
      if (blocks_.empty() || tail_ == kBlock) {
        blocks_.push_back(BlockPool::Take());
        tail_ = 0;
      }
      size_t n = std::min(kBlock - tail_, data.size());
      std::memcpy(blocks_.back() + tail_, data.data(), n);
      tail_ += n;
      size_ += n;
      data.remove_prefix(n);
    }
  }

  // Up to `max` bytes from the front, contiguous: in place, or copied to
  // `scratch` when they span two blocks.
  std::string_view Peek(size_t max, std::string* scratch) const {
    const size_t n = std::min(max, size_);
    if (n <= FirstAvailable()) return std::string_view(blocks_.front() + head_, n);
    scratch->clear();
    size_t offset = head_;
    for (size_t i = 0; scratch->size() < n; ++i) {
      const size_t end = i + 1 == blocks_.size() ? tail_ : kBlock;
      const size_t take = std::min(end - offset, n - scratch->size());
      scratch->append(blocks_[i] + offset, take);
      offset = 0;
    }
    return *scratch;
  }

  void Consume(size_t n) {
    size_ -= n;
    while (n > 0) {
      const size_t take = std::min(n, FirstAvailable());
      head_ += take;
      n -= take;
      if (head_ == (blocks_.size() == 1 ? tail_ : kBlock)) {
        BlockPool::Give(blocks_.front());
        blocks_.pop_front();
        head_ = 0;
        if (blocks_.empty()) tail_ = 0;
      }
    }
  }

  void Clear() {
    for (char* block : blocks_) BlockPool::Give(block);
    blocks_.clear();
    head_ = tail_ = size_ = 0;
  }

 private:
  static constexpr size_t kBlock = BlockPool::kBlock;

  size_t FirstAvailable() const {
    return blocks_.empty() ? 0 : (blocks_.size() == 1 ? tail_ : kBlock) - head_;
  }

  std::deque<char*> blocks_;
  size_t head_ = 0;  // bytes of the first block already sent
  size_t tail_ = 0;  // bytes of the last block in use
  size_t size_ = 0;
};

enum class State {
  kHandshake,  // TLS handshake under way
  kIdle,       // waiting for a request to begin
  kReading,    // part of a request has come
  kServing,    // queued for or held by a render thread
  kDraining,   // the rest of a response waits for the client
  kClosed,
};

struct Connection {
  Connection(int fd_, SSL* ssl_, std::string address_, size_t max_body)
      : fd(fd_), ssl(ssl_), address(std::move(address_)), scanner(max_body) {}

  size_t Parked() const { return out.size(); }
  bool Waiting() const { return state == State::kHandshake || state == State::kIdle || state == State::kReading; }

  const int fd;
  SSL* ssl;
  const std::string address;
  State state = State::kIdle;
  Clock::time_point since;     // when its current wait began (evictions: longest first)
  Clock::time_point deadline;  // when that wait ends it
  uint32_t watched = 0;        // epoll events registered; 0: not registered

  std::string in;          // received and not yet served
  size_t in_counted = 0;   // of `in`, what the request budget counts
  RequestScanner scanner;  // where the request in `in` ends
  size_t request_length = 0;  // bytes the render thread may read
  bool incomplete = false;    // handed over without a whole request (it gets a 4xx)

  OutputQueue out;      // response bytes the client has not taken yet
  std::string scratch;  // a TLS record of `out` that spans two of its blocks
  int kernel_unsent = -1;  // KernelUnsent() when the client last made progress

  size_t requests = 0;
  bool handshaken = false;
  bool peer_closed = false;      // the client ended its side
  bool close_after = false;      // after the response
  bool broken = false;           // the transport failed: no TLS close_notify
  bool read_wants_write = false;   // TLS: the handshake or a read waits for POLLOUT
  bool write_wants_read = false;   // TLS: a write waits for POLLIN
};

// Sends what the socket takes now (over TLS, one record at most): >0 bytes,
// 0 when it would block, -1 on failure. After 0, TLS must be given the
// same bytes again, at least as many.
ssize_t SendSome(Connection& c, const char* data, size_t size) {
  c.write_wants_read = false;
  for (;;) {
    if (c.ssl) {
      ERR_clear_error();
      int n = SSL_write(c.ssl, data, static_cast<int>(std::min(size, kTlsRecord)));
      if (n > 0) return n;
      int err = SSL_get_error(c.ssl, n);
      if (err == SSL_ERROR_WANT_WRITE) return 0;
      if (err == SSL_ERROR_WANT_READ) {
        c.write_wants_read = true;
        return 0;
      }
      return -1;
    }
    ssize_t n = send(c.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  }
}

// Bytes the kernel holds for the peer, not yet acknowledged by it; -1 when
// unknown. The client takes a response at the pace this falls: the socket
// turns writable only once much of its buffer (up to 4 MiB) is free.
int KernelUnsent(int fd) {
  int n = -1;
  return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

// Sends from the front of what waits for the client: as SendSome.
ssize_t SendQueued(Connection& c) {
  std::string_view piece = c.out.Peek(c.ssl ? kTlsRecord : SIZE_MAX, &c.scratch);
  ssize_t n = SendSome(c, piece.data(), piece.size());
  if (n > 0) c.out.Consume(static_cast<size_t>(n));
  return n;
}

// Reads what has come: >0 bytes, 0 when nothing is there yet, -1 when the
// peer closed (peer_closed) or the transport failed.
ssize_t ReceiveSome(Connection& c, char* data, size_t size) {
  c.read_wants_write = false;
  for (;;) {
    if (c.ssl) {
      ERR_clear_error();
      int n = SSL_read(c.ssl, data, static_cast<int>(std::min<size_t>(size, INT_MAX)));
      if (n > 0) return n;
      int err = SSL_get_error(c.ssl, n);
      if (err == SSL_ERROR_WANT_READ) return 0;
      if (err == SSL_ERROR_WANT_WRITE) {
        c.read_wants_write = true;
        return 0;
      }
      if (err == SSL_ERROR_ZERO_RETURN) c.peer_closed = true;
      else c.broken = true;
      return -1;
    }
    ssize_t n = recv(c.fd, data, size, 0);
    if (n > 0) return n;
    if (n == 0) {
      c.peer_closed = true;
      return -1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    c.broken = true;
    return -1;
  }
}

}  // namespace

class ConnectionFront::Impl {
 public:
  Impl(const FrontOptions& options, SSL_CTX* tls, ServeRequest serve);
  ~Impl();

  void Adopt(int fd);
  void Shutdown();

  // For the render threads' streams.
  const FrontOptions& options() const { return options_; }
  // Once stopping, a client's progress no longer extends its deadline.
  bool stopping() const { return stopping_; }
  // Counts `n` more response bytes waiting in memory. When the budget has
  // no room, has the event thread close the connections whose responses
  // have waited longest (waiting for it a moment), then tries once more.
  bool ReserveParked(size_t n);
  void ReleaseParked(size_t n) { parked_total_.fetch_sub(n); }
  // A render thread about to wait for a slow client takes a slot; false
  // when the threads allowed to wait so already do.
  bool TakeWaitingSlot();
  void ReleaseWaitingSlot() { waiting_threads_.fetch_sub(1); }
  void LogCutOff(const Connection& c) { waiting_threads_log_.Hit(c.address, options_.parked_per_connection); }

  ConnectionStats Stats() const;

 private:
  class Stream;
  struct Address {
    std::vector<Connection*> connections;
  };

  // ---- event thread ----
  void Loop();
  void Wake();
  void TakeInbox();
  void Admit(int fd);
  bool EvictFrom(Address& address);
  void OnEvent(Connection* c);
  void Handshake(Connection* c);
  void Read(Connection* c);
  bool MakeRoomForRequest(Connection* c, size_t n);
  void Examine(Connection* c);
  void Dispatch(Connection* c);
  void AfterServe(Connection* c);
  void Drain(Connection* c);
  void FinishResponse(Connection* c);
  void NextRequest(Connection* c);
  void Watch(Connection* c, uint32_t events);
  void Unwatch(Connection* c);
  void Close(Connection* c);
  void Sweep(Clock::time_point now);
  void RelieveParked();
  void BeginStop();

  // ---- render threads ----
  void Work();
  void Serve(Connection* c);

  const FrontOptions options_;
  SSL_CTX* const tls_;
  const ServeRequest serve_;
  const size_t max_waiting_threads_;

  int epoll_fd_ = -1;
  int wake_fd_ = -1;

  // Event thread only.
  std::unordered_map<Connection*, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, Address> addresses_;
  std::vector<std::unique_ptr<Connection>> graveyard_;  // freed after each batch of events
  size_t request_bytes_ = 0;
  std::vector<char> read_buffer_ = std::vector<char>(kReadChunk);

  // Shared.
  std::atomic<bool> stopping_{false};
  std::atomic<bool> parked_pressure_{false};
  std::mutex relief_mu_;  // render threads wait here for the event thread to make room
  std::condition_variable relief_done_;
  uint64_t reliefs_ = 0;
  std::atomic<size_t> parked_total_{0};
  std::atomic<size_t> waiting_threads_{0};
  std::atomic<size_t> open_{0};
  std::atomic<uint64_t> timeouts_{0};

  std::mutex inbox_mu_;  // what other threads hand the event thread
  std::vector<int> new_sockets_;
  std::vector<Connection*> served_;
  bool stop_requested_ = false;
  bool loop_ended_ = false;

  std::mutex queue_mu_;  // complete requests for the render threads
  std::condition_variable queue_ready_;
  std::deque<Connection*> queue_;
  bool threads_stop_ = false;

  LimitLog per_address_log_{
      "connections from one address reached their limit: closing that address's connection that has waited "
      "longest (or, when only complete requests remain, the new one)",
      "--web.max-connections-per-address"};
  LimitLog total_log_{
      "connections reached their limit: closing the connection that has waited longest from the address that "
      "holds the most (or, when only complete requests remain, the new one)",
      "--web.max-connections"};
  LimitLog request_budget_log_{
      "buffered requests reached their memory budget: closing the connection with the largest partial request",
      nullptr};
  LimitLog parked_budget_log_{
      "responses waiting for slow clients reached their memory budget: closing the connection whose response "
      "has waited longest",
      nullptr};
  LimitLog waiting_threads_log_{
      "a response outgrew its memory share and its client took it too slowly: cutting it off", nullptr};

  std::thread event_thread_;
  std::vector<std::thread> render_threads_;
};

// The Stream httplib's process_request reads one buffered request from and
// writes its response to, on a render thread: reads never wait; writes
// wait for the client only when the response outgrows its memory share.
class ConnectionFront::Impl::Stream : public httplib::Stream {
 public:
  Stream(Impl& front, Connection& c) : front_(front), c_(c) {}
  ~Stream() override {
    if (waiting_slot_) front_.ReleaseWaitingSlot();
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  size_t consumed() const { return pos_; }
  bool close_after() const { return close_after_; }

  bool is_readable() const override { return pos_ < c_.request_length; }
  bool is_writable() const override { return !c_.broken; }

  ssize_t read(char* ptr, size_t size) override {
    const size_t limit = std::min(c_.request_length, c_.in.size());
    if (pos_ >= limit) return 0;  // httplib reads no further than the request
    size_t n = std::min(size, limit - pos_);
    std::memcpy(ptr, c_.in.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (c_.broken) return -1;
    if (size == 0) return 0;
    if (head_pending_) NoteResponseHead(std::string_view(ptr, size));
    std::string_view data(ptr, size);
    for (;;) {
      if (c_.Parked() > 0 && !Flush()) return Broken();
      if (c_.Parked() == 0) {
        ssize_t n = SendSome(c_, data.data(), data.size());
        if (n < 0) return Broken();
        NoteSend(n);
        data.remove_prefix(static_cast<size_t>(n));
        if (data.empty()) return static_cast<ssize_t>(size);
      }
      // What the socket does not take now waits in memory, within limits.
      if (c_.Parked() + data.size() <= front_.options().parked_per_connection &&
          front_.ReserveParked(data.size())) {
        c_.out.Append(data);
        return static_cast<ssize_t>(size);
      }
      if (!WaitForClient()) return Broken();
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getpeername(c_.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip = Describe(addr, &port);
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (getsockname(c_.fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) ip = Describe(addr, &port);
  }

  socket_t socket() const override { return c_.fd; }

 private:
  ssize_t Broken() {
    c_.broken = true;
    return -1;
  }

  // Sends what waits in memory as far as the socket takes it now; false
  // when the connection failed.
  bool Flush() {
    while (c_.Parked() > 0) {
      ssize_t n = SendQueued(c_);
      if (n < 0) return false;
      NoteSend(n);
      if (n == 0) break;
      front_.ReleaseParked(static_cast<size_t>(n));
    }
    return true;
  }

  // After a send of `n` bytes (0: the socket took none): the client made
  // progress when it took some; when it took none, what the kernel holds
  // now is what the client's reading will shrink.
  void NoteSend(ssize_t n) {
    if (n > 0) {
      if (!front_.stopping()) progress_ = Clock::now();
      kernel_unsent_ = -1;
    } else if (kernel_unsent_ < 0) {
      kernel_unsent_ = KernelUnsent(c_.fd);
    }
  }

  // Whether the client took bytes the kernel held since the last look.
  bool KernelProgress() {
    const int unsent = KernelUnsent(c_.fd);
    if (unsent < 0 || kernel_unsent_ < 0 || unsent >= kernel_unsent_) {
      if (kernel_unsent_ < 0) kernel_unsent_ = unsent;
      return false;
    }
    kernel_unsent_ = unsent;
    if (!front_.stopping()) progress_ = Clock::now();
    return true;
  }

  // The response has outgrown its share of memory: waits until the client
  // takes some of it, the socket takes more, or the budget has room again.
  // A render thread waits so only while its client takes bytes at least
  // every kStallLimit, and per response at most write_timeout in all when
  // it holds one of the waiting slots (half the render threads, at least
  // one), else kImpatientWait. Then the response is cut off: false.
  bool WaitForClient() {
    if (!waiting_slot_ && !impatient_) {
      waiting_slot_ = front_.TakeWaitingSlot();
      impatient_ = !waiting_slot_;
    }
    const auto allowed = impatient_ ? std::chrono::milliseconds(kImpatientWait)
                                    : std::chrono::duration_cast<std::chrono::milliseconds>(front_.options().write_timeout);
    const auto deadline = std::min(progress_ + kStallLimit, Clock::now() + (allowed - waited_));
    for (;;) {
      if (c_.Parked() > 0) {
        const size_t before = c_.Parked();
        if (!Flush()) return false;
        if (c_.Parked() < before) return true;
      }
      if (KernelProgress()) return true;  // a new deadline from here
      const int left = MillisecondsUntil(deadline);
      if (left == 0) {
        front_.LogCutOff(c_);
        return false;
      }
      const auto start = Clock::now();
      pollfd p{c_.fd, static_cast<short>(c_.write_wants_read ? POLLIN : POLLOUT), 0};
      poll(&p, 1, std::min(left, 100));  // in slices: the budget may get room meanwhile
      waited_ += std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
      if (c_.Parked() == 0) return true;  // writable, or the budget may have room: the caller tries again
    }
  }

  // httplib writes a response's status line and headers in one write.
  void NoteResponseHead(std::string_view data) {
    if (data.rfind("HTTP/1.", 0) != 0) return;
    if (data.size() > 9 && data[9] == '1') return;  // "100 Continue": the real head follows
    head_pending_ = false;
    size_t end = data.find("\r\n\r\n");
    std::string_view head = data.substr(0, end == std::string_view::npos ? data.size() : end + 2);
    close_after_ = head.find("\r\nConnection: close\r\n") != std::string_view::npos;
  }

  Impl& front_;
  Connection& c_;
  size_t pos_ = 0;
  bool head_pending_ = true;
  bool close_after_ = false;
  bool waiting_slot_ = false;
  bool impatient_ = false;  // waits without a slot
  Clock::time_point progress_ = Clock::now();  // when the client last took bytes
  int kernel_unsent_ = -1;  // KernelUnsent() at the last look; -1 after our own sends
  std::chrono::milliseconds waited_{0};        // for the client, this response
};

ConnectionFront::Impl::Impl(const FrontOptions& options, SSL_CTX* tls, ServeRequest serve)
    : options_(options),
      tls_(tls),
      serve_(std::move(serve)),
      max_waiting_threads_(std::max<size_t>(1, options.render_threads / 2)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll/eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl");
  event_thread_ = std::thread([this] { Loop(); });
  for (size_t i = 0; i < options_.render_threads; ++i) render_threads_.emplace_back([this] { Work(); });
}

ConnectionFront::Impl::~Impl() {
  Shutdown();
  if (epoll_fd_ >= 0) close(epoll_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void ConnectionFront::Impl::Adopt(int fd) {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    if (!loop_ended_) {
      new_sockets_.push_back(fd);
      fd = -1;
    }
  }
  if (fd >= 0) {
    close(fd);
    return;
  }
  Wake();
}

void ConnectionFront::Impl::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    stop_requested_ = true;
  }
  Wake();
  if (event_thread_.joinable()) event_thread_.join();
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    threads_stop_ = true;
  }
  queue_ready_.notify_all();
  for (auto& t : render_threads_) t.join();
  render_threads_.clear();
}

bool ConnectionFront::Impl::ReserveParked(size_t n) {
  for (int attempt = 0;; ++attempt) {
    size_t current = parked_total_.load();
    while (current + n <= options_.parked_budget) {
      if (parked_total_.compare_exchange_weak(current, current + n)) return true;
    }
    if (attempt == 1) return false;
    std::unique_lock<std::mutex> lock(relief_mu_);
    const uint64_t seen = reliefs_;
    parked_pressure_ = true;
    Wake();
    relief_done_.wait_for(lock, kReliefWait, [&] { return reliefs_ != seen; });
  }
}

bool ConnectionFront::Impl::TakeWaitingSlot() {
  size_t current = waiting_threads_.load();
  do {
    if (current >= max_waiting_threads_) return false;
  } while (!waiting_threads_.compare_exchange_weak(current, current + 1));
  return true;
}

void ConnectionFront::Impl::Wake() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof(one));  // fails only when the counter is full: awake anyway
  (void)ignored;
}

// ---- event thread ----------------------------------------------------------

void ConnectionFront::Impl::Loop() {
  std::vector<epoll_event> events(256);
  auto next_sweep = Clock::now() + kSweepInterval;
  while (!(stopping_ && connections_.empty())) {
    int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), MillisecondsUntil(next_sweep));
    if (n < 0 && errno != EINTR) {
      Log(LogLevel::kError, "epoll_wait failed", {{"err", std::strerror(errno)}});
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) TakeInbox();
      else OnEvent(static_cast<Connection*>(events[i].data.ptr));
    }
    if (parked_pressure_.exchange(false)) {
      RelieveParked();
      {
        std::lock_guard<std::mutex> lock(relief_mu_);
        ++reliefs_;
      }
      relief_done_.notify_all();
    }
    const auto now = Clock::now();
    if (now >= next_sweep) {
      Sweep(now);
      next_sweep = now + kSweepInterval;
    }
    graveyard_.clear();
  }
  std::vector<int> late;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    loop_ended_ = true;
    late.swap(new_sockets_);
  }
  for (int fd : late) close(fd);
}

void ConnectionFront::Impl::TakeInbox() {
  uint64_t count;
  ssize_t ignored = read(wake_fd_, &count, sizeof(count));
  (void)ignored;
  std::vector<int> sockets;
  std::vector<Connection*> served;
  bool stop;
  {
    std::lock_guard<std::mutex> lock(inbox_mu_);
    sockets.swap(new_sockets_);
    served.swap(served_);
    stop = stop_requested_;
  }
  if (stop && !stopping_) BeginStop();
  for (Connection* c : served) AfterServe(c);  // first: they may free room for the new ones
  for (int fd : sockets) Admit(fd);
}

void ConnectionFront::Impl::Admit(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (stopping_ || getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);  // stopping, or the client is gone already
    return;
  }
  std::string ip = Describe(addr, nullptr);
  Address& address = addresses_[ip];
  if (address.connections.size() >= options_.max_connections_per_address) {
    per_address_log_.Hit(ip, options_.max_connections_per_address);
    if (!EvictFrom(address)) {
      Log(LogLevel::kDebug, "refusing a connection: its address has only complete requests open", {{"remote", ip}});
      close(fd);
      return;
    }
  }
  if (connections_.size() >= options_.max_connections) {
    // From the address holding the most; from the next when all of its
    // connections hold complete requests.
    std::vector<std::pair<size_t, Address*>> by_size;
    for (auto& [name, a] : addresses_) by_size.emplace_back(a.connections.size(), &a);
    std::sort(by_size.begin(), by_size.end(), [](const auto& x, const auto& y) { return x.first > y.first; });
    total_log_.Hit(by_size.front().second->connections.empty() ? ip : by_size.front().second->connections[0]->address,
                   options_.max_connections);
    bool evicted = false;
    for (auto& [size, a] : by_size) {
      if (size == 0 || (evicted = EvictFrom(*a))) break;
    }
    if (!evicted) {
      Log(LogLevel::kDebug, "refusing a connection: only complete requests are open", {{"remote", ip}});
      close(fd);
      return;
    }
  }

  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int yes = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof(yes));  // a response's last bytes go at once
  SSL* ssl = nullptr;
  if (tls_) {
    ssl = SSL_new(tls_);
    if (!ssl) {
      close(fd);
      return;
    }
    SSL_set_fd(ssl, fd);
    SSL_set_accept_state(ssl);
    // Partial writes, from wherever the unsent rest is kept; no buffers
    // kept while a connection has nothing to read or write.
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                          SSL_MODE_RELEASE_BUFFERS);
  }
  auto owned = std::make_unique<Connection>(fd, ssl, std::move(ip), options_.max_body_bytes);
  Connection* c = owned.get();
  const auto now = Clock::now();
  c->since = now;
  if (ssl) {
    c->state = State::kHandshake;
    c->deadline = now + options_.request_timeout;
  } else {
    c->state = State::kIdle;
    c->deadline = now + options_.idle_timeout;
  }
  address.connections.push_back(c);
  connections_.emplace(c, std::move(owned));
  open_ = connections_.size();
  // The request (or the ClientHello) is often here already: served before
  // another new connection could push this one out.
  if (ssl) Handshake(c);
  else Read(c);
}

// Closes the connection of `address` waiting longest for its request, else
// the one whose response has waited longest for the client.
bool ConnectionFront::Impl::EvictFrom(Address& address) {
  Connection* victim = nullptr;
  for (Connection* c : address.connections) {
    if (!c->Waiting() && c->state != State::kDraining) continue;  // complete requests are served
    if (!victim || (c->Waiting() && !victim->Waiting()) ||
        (c->Waiting() == victim->Waiting() && c->since < victim->since))
      victim = c;
  }
  if (!victim) return false;
  if (LogEnabled(LogLevel::kDebug))
    Log(LogLevel::kDebug, "closing a connection for a limit",
        {{"remote", victim->address}, {"waiting_for", victim->Waiting() ? "its request" : "its client"}});
  Close(victim);
  return true;
}

void ConnectionFront::Impl::OnEvent(Connection* c) {
  switch (c->state) {
    case State::kHandshake: Handshake(c); break;
    case State::kIdle:
    case State::kReading: Read(c); break;
    case State::kDraining: Drain(c); break;
    case State::kServing:
    case State::kClosed: break;  // an event from before it was handed over or closed
  }
}

void ConnectionFront::Impl::Handshake(Connection* c) {
  ERR_clear_error();
  int r = SSL_accept(c->ssl);
  if (r == 1) {
    c->handshaken = true;
    c->state = State::kIdle;
    c->deadline = Clock::now() + options_.idle_timeout;
    Read(c);  // the request may have come with the handshake's last flight
    return;
  }
  int err = SSL_get_error(c->ssl, r);
  if (err == SSL_ERROR_WANT_READ) {
    Watch(c, EPOLLIN);
  } else if (err == SSL_ERROR_WANT_WRITE) {
    Watch(c, EPOLLOUT);
  } else {
    c->broken = true;
    Close(c);
  }
}

void ConnectionFront::Impl::Read(Connection* c) {
  while (c->in.size() < options_.max_request_bytes) {
    const size_t room = std::min(options_.max_request_bytes - c->in.size(), read_buffer_.size());
    ssize_t n = ReceiveSome(*c, read_buffer_.data(), room);
    if (n == 0) break;
    if (n < 0) {
      if (c->peer_closed) break;  // serve what has come, if it is a request
      Close(c);
      return;
    }
    const size_t got = static_cast<size_t>(n);
    if (!MakeRoomForRequest(c, got)) return;
    if (c->state == State::kIdle) {
      c->state = State::kReading;  // the request's clock starts with its first byte
      c->deadline = Clock::now() + options_.request_timeout;
    }
    c->in.append(read_buffer_.data(), got);
    c->in_counted += got;
    request_bytes_ += got;
  }
  Examine(c);
  if (c->state == State::kIdle || c->state == State::kReading) Watch(c, c->read_wants_write ? EPOLLOUT : EPOLLIN);
}

// Keeps all buffered requests within the budget: closes the connection with
// the largest partial request (which may be `c`) until `n` more bytes fit.
bool ConnectionFront::Impl::MakeRoomForRequest(Connection* c, size_t n) {
  while (request_bytes_ + n > options_.request_budget) {
    Connection* victim = c;
    for (auto& [p, other] : connections_) {
      if ((other->Waiting() || other->state == State::kDraining) && other->in_counted > victim->in_counted)
        victim = p;
    }
    request_budget_log_.Hit(victim->address, options_.request_budget);
    Close(victim);
    if (victim == c) return false;
  }
  return true;
}

void ConnectionFront::Impl::Examine(Connection* c) {
  if (c->in.empty()) {
    if (c->peer_closed) Close(c);
    return;
  }
  RequestScan scan = c->scanner.Scan(c->in);
  if (scan.result == RequestScan::kComplete) {
    c->request_length = scan.length;
  } else if (scan.result == RequestScan::kMalformed || c->in.size() >= options_.max_request_bytes ||
             c->peer_closed) {
    // httplib reads what there is and answers 4xx; then the connection ends.
    c->request_length = c->in.size();
    c->incomplete = true;
  } else {
    return;  // more to come
  }
  Dispatch(c);
}

void ConnectionFront::Impl::Dispatch(Connection* c) {
  Unwatch(c);
  c->state = State::kServing;
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    queue_.push_back(c);
  }
  queue_ready_.notify_one();
}

void ConnectionFront::Impl::AfterServe(Connection* c) {
  // The render thread removed the request from `in`.
  request_bytes_ -= c->in_counted - c->in.size();
  c->in_counted = c->in.size();
  if (c->in.empty()) std::string().swap(c->in);
  c->scanner.Reset();
  c->incomplete = false;
  if (c->broken) {
    Close(c);
    return;
  }
  if (c->Parked() > 0) {
    const auto now = Clock::now();
    c->state = State::kDraining;
    c->since = now;
    c->deadline = now + options_.write_timeout;
    c->kernel_unsent = KernelUnsent(c->fd);
    Drain(c);
    return;
  }
  FinishResponse(c);
}

void ConnectionFront::Impl::Drain(Connection* c) {
  while (c->Parked() > 0) {
    ssize_t n = SendQueued(*c);
    if (n < 0) {
      c->broken = true;
      Close(c);
      return;
    }
    if (n == 0) {
      c->kernel_unsent = KernelUnsent(c->fd);  // what the client's reading will shrink
      Watch(c, c->write_wants_read ? EPOLLIN : EPOLLOUT);
      return;
    }
    parked_total_.fetch_sub(static_cast<size_t>(n));
    if (!stopping_) c->deadline = Clock::now() + options_.write_timeout;  // a stop waits write_timeout at most
  }
  FinishResponse(c);
}

void ConnectionFront::Impl::FinishResponse(Connection* c) {
  std::string().swap(c->scratch);
  if (c->close_after || stopping_) {
    Close(c);
    return;
  }
  NextRequest(c);
}

void ConnectionFront::Impl::NextRequest(Connection* c) {
  const auto now = Clock::now();
  c->since = now;
  if (c->in.empty()) {
    c->state = State::kIdle;
    c->deadline = now + options_.idle_timeout;
  } else {
    c->state = State::kReading;  // a pipelined request has begun
    c->deadline = now + options_.request_timeout;
  }
  // Bytes TLS has decrypted already would raise no event.
  if (c->ssl && SSL_pending(c->ssl) > 0) {
    Read(c);
    return;
  }
  Examine(c);
  if (c->state == State::kIdle || c->state == State::kReading) Watch(c, EPOLLIN);
}

void ConnectionFront::Impl::Watch(Connection* c, uint32_t events) {
  if (c->watched == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = c;
  if (epoll_ctl(epoll_fd_, c->watched ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &ev) != 0) {
    Log(LogLevel::kError, "epoll_ctl failed", {{"err", std::strerror(errno)}});
    c->broken = true;
    Close(c);
    return;
  }
  c->watched = events;
}

void ConnectionFront::Impl::Unwatch(Connection* c) {
  if (c->watched == 0) return;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  c->watched = 0;
}

void ConnectionFront::Impl::Close(Connection* c) {
  if (c->state == State::kClosed) return;
  Unwatch(c);
  if (c->ssl) {
    if (c->handshaken && !c->broken) SSL_shutdown(c->ssl);  // close_notify, best effort
    SSL_free(c->ssl);
    c->ssl = nullptr;
  }
  shutdown(c->fd, SHUT_RDWR);
  close(c->fd);
  request_bytes_ -= c->in_counted;
  c->in_counted = 0;
  parked_total_.fetch_sub(c->Parked());
  c->out.Clear();
  c->state = State::kClosed;
  auto address = addresses_.find(c->address);
  if (address != addresses_.end()) {
    auto& list = address->second.connections;
    auto it = std::find(list.begin(), list.end(), c);
    if (it != list.end()) {
      *it = list.back();
      list.pop_back();
    }
  }
  auto owned = connections_.find(c);
  if (owned != connections_.end()) {
    graveyard_.push_back(std::move(owned->second));
    connections_.erase(owned);
  }
  open_ = connections_.size();
}

void ConnectionFront::Impl::Sweep(Clock::time_point now) {
  std::vector<Connection*> expired;
  for (auto& [p, c] : connections_) {
    if (c->state == State::kServing || c->deadline > now) continue;
    if (c->state == State::kDraining && !stopping_) {
      // Not writable for write_timeout, but taking what the kernel holds.
      const int unsent = KernelUnsent(c->fd);
      if (unsent >= 0 && unsent < c->kernel_unsent) {
        c->kernel_unsent = unsent;
        c->deadline = now + options_.write_timeout;
        continue;
      }
    }
    expired.push_back(p);
  }
  for (Connection* c : expired) {
    if (LogEnabled(LogLevel::kDebug)) {
      const char* what = c->state == State::kDraining   ? "the client did not take its response in time"
                         : c->state == State::kReading  ? "the request did not arrive in time"
                         : c->state == State::kHandshake ? "the TLS handshake did not finish in time"
                                                          : "no request came";
      Log(LogLevel::kDebug, "closing a connection", {{"remote", c->address}, {"reason", what}});
    }
    timeouts_.fetch_add(1);
    Close(c);
  }
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    if (it->second.connections.empty()) it = addresses_.erase(it);
    else ++it;
  }
}

// Makes room in the response budget for one more full share: closes the
// connections whose responses have waited longest.
void ConnectionFront::Impl::RelieveParked() {
  while (parked_total_.load() + options_.parked_per_connection > options_.parked_budget) {
    Connection* victim = nullptr;
    for (auto& [p, c] : connections_) {
      if (c->state == State::kDraining && (!victim || c->since < victim->since)) victim = p;
    }
    if (!victim) return;  // what waits belongs to render threads; they wait for their clients
    parked_budget_log_.Hit(victim->address, options_.parked_budget);
    Close(victim);
  }
}

void ConnectionFront::Impl::BeginStop() {
  stopping_ = true;
  std::vector<Connection*> waiting;
  for (auto& [p, c] : connections_) {
    if (c->Waiting()) waiting.push_back(p);
  }
  for (Connection* c : waiting) Close(c);
}

ConnectionStats ConnectionFront::Impl::Stats() const {
  ConnectionStats stats;
  stats.open = open_.load();
  stats.response_bytes_waiting = parked_total_.load();
  stats.closed_per_address_limit = per_address_log_.hits();
  stats.closed_total_limit = total_log_.hits();
  stats.closed_request_memory = request_budget_log_.hits();
  stats.closed_response_memory = parked_budget_log_.hits();
  stats.closed_slow_response = waiting_threads_log_.hits();
  stats.closed_timeout = timeouts_.load();
  return stats;
}

// ---- render threads --------------------------------------------------------

void ConnectionFront::Impl::Work() {
  for (;;) {
    Connection* c;
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_ready_.wait(lock, [this] { return threads_stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      c = queue_.front();
      queue_.pop_front();
    }
    if (stopping_) {
      // The server's socket is closed: httplib would end a streamed body
      // before it began. Requests not yet begun are dropped, as on a
      // restart.
      c->close_after = true;
    } else {
      try {
        Serve(c);
      } catch (const std::exception& e) {
        Log(LogLevel::kError, "request failed", {{"err", e.what()}});
        c->broken = true;
      }
    }
    {
      std::lock_guard<std::mutex> lock(inbox_mu_);
      served_.push_back(c);
    }
    Wake();
  }
}

void ConnectionFront::Impl::Serve(Connection* c) {
  ++c->requests;
  const bool last = c->requests >= options_.max_requests_per_connection || c->peer_closed || c->incomplete;
  bool closed = false;
  bool ok;
  size_t consumed;
  bool close_after;
  {
    Stream stream(*this, *c);
    ok = serve_(stream, last, closed, c->ssl);
    consumed = stream.consumed();
    close_after = stream.close_after();
  }
  c->in.erase(0, std::min(c->in.size(), std::max(consumed, c->request_length)));
  c->close_after = !ok || closed || last || close_after;
}

// ---- ConnectionFront -------------------------------------------------------

ConnectionFront::ConnectionFront(const FrontOptions& options, SSL_CTX* tls, ServeRequest serve)
    : impl_(std::make_unique<Impl>(options, tls, std::move(serve))) {}

ConnectionFront::~ConnectionFront() = default;

void ConnectionFront::Adopt(int fd) { impl_->Adopt(fd); }

void ConnectionFront::Shutdown() { impl_->Shutdown(); }

ConnectionStats ConnectionFront::Stats() const { return impl_->Stats(); }

}  // namespace promsqlite_server
