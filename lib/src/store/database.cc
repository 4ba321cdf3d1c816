#include "store/database.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sqlite3.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "store/sql.h"

namespace promsqlite::detail {

void SleepMilliseconds(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A database file cut short (a copy interrupted, a disk filled up while
// someone else wrote it) opens fine and fails only on the pages that are
// gone, maybe after a writer has added to it. Its header says how long it
// should be; trust that only when it is marked valid and no WAL could hold
// the missing pages (a crash in the middle of a checkpoint).
bool SameFile(const struct stat& a, const struct stat& b) { return a.st_dev == b.st_dev && a.st_ino == b.st_ino; }

// A descriptor of this process open on the file `target` is (SQLite's own,
// for -shm files: we never open one), or -1.
int FindOpenDescriptor(const struct stat& target) {
  DIR* fds = opendir("/proc/self/fd");
  if (fds == nullptr) return -1;
  int found = -1;
  while (dirent* entry = readdir(fds)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    const int fd = std::atoi(entry->d_name);
    struct stat st;
    if (fd != dirfd(fds) && fstat(fd, &st) == 0 && SameFile(st, target)) {
      found = fd;
      break;
    }
  }
  closedir(fds);
  return found;
}

// How far the file falls short of its header's page count (0: it does not,
// or it cannot tell), read in one go: the header, then the size of the
// same open file, with the WAL empty.
int64_t ShortfallBytes(const std::string& path, int64_t* expected_out, int64_t* size_out) {
  struct stat wal;
  if (stat((path + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) return 0;
  unsigned char header[100];
  struct stat st;
  ssize_t got = 0;
  bool sized = false;
  // Through a descriptor this process has open on the file already (an
  // SQLite connection's) when there is one: closing a descriptor of our own
  // would drop every POSIX lock this process holds on the file, its SQLite
  // connections' included.
  struct stat file;
  const int open_fd = stat(path.c_str(), &file) == 0 ? FindOpenDescriptor(file) : -1;
  if (open_fd >= 0) {
    got = pread(open_fd, header, sizeof header, 0);
    sized = fstat(open_fd, &st) == 0;
  } else {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return 0;  // SQLite will report why
    got = static_cast<ssize_t>(std::fread(header, 1, sizeof header, f));
    sized = fstat(fileno(f), &st) == 0;
    std::fclose(f);
  }
  if (!sized || got != static_cast<ssize_t>(sizeof header) || std::memcmp(header, "SQLite format 3", 16) != 0)
    return 0;
  uint32_t page_size = (uint32_t{header[16]} << 8) | header[17];
  if (page_size == 1) page_size = 65536;
  uint32_t pages = BigEndian32(header + 28);
  bool size_valid = BigEndian32(header + 24) == BigEndian32(header + 92) && pages > 0;
  int64_t expected = int64_t{pages} * page_size;
  *expected_out = expected;
  *size_out = st.st_size;
  return size_valid && st.st_size < expected ? expected - st.st_size : 0;
}

void RejectTruncated(const std::string& path, const struct stat& st) {
  if (st.st_size < 100) return;
  int64_t expected = 0, size = 0;
  // A checkpoint that is growing the file right now (another writer's, or
  // the last writer's as it closes and empties the WAL) can show a header
  // ahead of the file's length for a moment: only a shortfall that stays is
  // a truncated file.
  for (int look = 0; ShortfallBytes(path, &expected, &size) > 0; ++look) {
    if (look == 5)
      throw DatabaseError(path + ": database file is truncated (" + std::to_string(size) + " of " +
                          std::to_string(expected) + " bytes)");
    SleepMilliseconds(10 << look);
  }
}

std::string UserName(uid_t uid) {
  struct passwd pw, *found = nullptr;
  char buffer[4096];
  if (getpwuid_r(uid, &pw, buffer, sizeof buffer, &found) == 0 && found != nullptr) return found->pw_name;
  return "uid " + std::to_string(uid);
}

std::string GroupName(gid_t gid) {
  struct group gr, *found = nullptr;
  char buffer[4096];
  if (getgrgid_r(gid, &gr, buffer, sizeof buffer, &found) == 0 && found != nullptr) return found->gr_name;
  return "gid " + std::to_string(gid);
}

bool InGroup(gid_t gid) {
  if (getegid() == gid) return true;
  int n = getgroups(0, nullptr);
  std::vector<gid_t> groups(n > 0 ? n : 0);
  n = getgroups(static_cast<int>(groups.size()), groups.data());
  for (int i = 0; i < n; ++i)
    if (groups[i] == gid) return true;
  return false;
}

bool Writable(const std::string& path) { return faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) == 0; }

std::string FolderOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// SQLite opens a file it may not write read-only without a word, and a
// -wal or -shm it may not write fails only at the first update: check all
// of them (and the folder, when the -wal is still to be created) first.
void RequireWritable(const std::string& path) {
  if (faccessat(AT_FDCWD, path.c_str(), W_OK, AT_EACCESS) != 0 && errno == EROFS)
    throw DatabaseError(path + ": cannot open for writing: it is on a read-only file system");
  struct stat st;
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::string file = path + suffix;
    if (stat(file.c_str(), &st) == 0 && !Writable(file)) throw DatabaseError(ReadOnlyMessage(path, file));
  }
  std::string folder = FolderOf(path);
  if (stat((path + "-wal").c_str(), &st) != 0 && !Writable(folder))
    throw DatabaseError(ReadOnlyMessage(path, folder));
}

// A new empty file `name` with exactly `mode` (fchmod is not subject to
// the umask), unless it exists. It is made under a temporary name and linked
// into place, so that no other process sees it with the umask's mode; where
// hard links are not supported, it is created in place.
void CreateExactly(const std::string& path, const std::string& name, unsigned mode) {
  auto create = [&](const std::string& file) {
    int fd = open(file.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) {
      if (errno == EEXIST) return;  // another process was first
      if (errno == EACCES || errno == EROFS) throw DatabaseError(ReadOnlyMessage(path, FolderOf(path)));
      // Name the file meant, not the temporary one it is made under.
      throw DatabaseError(path + ": cannot create " + name + ": " + std::strerror(errno));
    }
    int failed = fchmod(fd, static_cast<mode_t>(mode)) != 0 ? errno : 0;
    close(fd);
    if (failed != 0) {
      unlink(file.c_str());
      throw DatabaseError(path + ": cannot set the mode of " + file + ": " + std::strerror(failed));
    }
  };
  std::string temporary = name + ".creating-" + std::to_string(getpid());
  unlink(temporary.c_str());  // left by a killed process that had our pid
  create(temporary);
  int linked = link(temporary.c_str(), name.c_str()) == 0 ? 0 : errno;
  unlink(temporary.c_str());
  if (linked == 0 || linked == EEXIST) return;
  if (linked != EPERM && linked != ENOTSUP && linked != EXDEV)
    throw DatabaseError(path + ": cannot create " + name + ": " + std::strerror(linked));
  create(name);
}

// The file with exactly `mode`. Its -shm and -wal first, empty (SQLite
// takes them for new ones), also with that mode: SQLite would create them
// with the umask's mode and fchmod them a moment later, and a writer of
// the group that opened them in between would be refused.
void CreateWithMode(const std::string& path, unsigned mode) {
  CreateExactly(path, path + "-shm", mode);
  CreateExactly(path, path + "-wal", mode);
  CreateExactly(path, path, mode);
}

std::string Octal(unsigned mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", mode);
  return text;
}

// `path` shortened for a one-line message.
std::string Shown(const std::string& path) {
  return path.size() <= 120 ? path : path.substr(0, 60) + "..." + path.substr(path.size() - 40);
}

const char kFolderRecipe[] =
    "; for writers that run as different users, make it a setgid folder of their group (docs/permissions.md)";

// The deepest folder of `path` that does not exist, or "" when there is
// none; *not_folder: the first component that exists but is not a folder.
std::string FirstMissing(const std::string& path, std::string* not_folder) {
  std::string prefix;
  size_t start = path[0] == '/' ? 1 : 0;
  if (start == 1) prefix = "/";
  for (size_t slash; (slash = path.find('/', start)) != std::string::npos; start = slash + 1) {
    std::string folder = path.substr(0, slash);
    if (folder.empty() || folder == prefix) continue;
    struct stat st;
    if (stat(folder.c_str(), &st) != 0) return errno == ENOENT ? folder : "";
    if (!S_ISDIR(st.st_mode)) {
      *not_folder = folder;
      return "";
    }
  }
  return "";
}

}  // namespace

std::string PathProblem(const std::string& path, bool writable, bool create) {
  if (path.empty()) return "an empty path is not a file: give the path of the promsqlite file";
  if (path.size() >= PATH_MAX)
    return Shown(path) + ": the path is " + std::to_string(path.size()) + " bytes long; at most " +
           std::to_string(PATH_MAX - 1) + " are allowed: choose a shorter one";
  for (size_t start = 0, slash; start < path.size(); start = slash + 1) {
    slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash - start > NAME_MAX)
      return Shown(path) + ": the name \"" + Shown(path.substr(start, slash - start)) + "\" is " +
             std::to_string(slash - start) + " bytes long; a file or folder name may have at most " +
             std::to_string(NAME_MAX) + ": choose a shorter one";
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return path + ": is a directory, not a promsqlite database: give the path of a file in it, e.g. " + path +
             (path.back() == '/' ? "" : "/") + "metrics.db";
    if (!S_ISREG(st.st_mode))
      return path + ": is not a regular file (a device, pipe or socket), not a promsqlite database: choose a "
                    "file's path";
    // Its content is SQLite's to judge (OpenDatabase): closing a descriptor
    // of our own on it would drop this process's SQLite locks on the file.
    return "";
  }
  const int stat_error = errno;
  std::string not_folder;
  std::string missing = FirstMissing(path, &not_folder);
  if (!not_folder.empty())
    return path + ": " + not_folder + " is a file, not a folder: choose a path in a folder";
  if (stat_error == EACCES && writable)  // a reader reports it on each read: permissions may be fixed meanwhile
    return path + ": cannot reach it: a folder on its way lacks search (x) permission for this process";
  if (!missing.empty() && writable) {  // a reader waits for the folder and the file to appear
    std::string folder = FolderOf(path);
    return path + ": folder " + folder + " does not exist: create it (mkdir -p " + folder + ")" + kFolderRecipe;
  }
  if (writable && create && faccessat(AT_FDCWD, FolderOf(path).c_str(), W_OK, AT_EACCESS) != 0 &&
      errno == EROFS)
    return path + ": cannot create it: folder " + FolderOf(path) +
           " is on a read-only file system: choose a path on a writable one (e.g. under /var/lib)";
  return "";
}

std::string ReadOnlyMessage(const std::string& path, const std::string& blocked) {
  std::string what = blocked == path ? "the file is"
                     : blocked == FolderOf(path)
                         ? "its folder " + blocked + " (where the file, its -wal and -shm are created) is"
                         : blocked + " is";
  std::string out = path + ": cannot open for writing: " + what + " read-only for this process";
  struct stat st;
  if (stat(blocked.c_str(), &st) == 0) {
    out += " (mode " + Octal(st.st_mode & 07777) + ", owner " + UserName(st.st_uid) + ", group " +
           GroupName(st.st_gid) + "; this process runs as " + UserName(geteuid()) + ", " +
           (InGroup(st.st_gid) ? "in" : "not in") + " group " + GroupName(st.st_gid) + ")";
  }
  return out +
         ". Writers that run as different users share a file through a group: create it with mode 0660 "
         "(Options::file_mode, promsqlite --mode 0660 or PROMSQLITE_MODE=0660) in a setgid folder owned by "
         "that group, or give the group write access (chmod g+w) to the file, its -wal and -shm; see "
         "docs/permissions.md";
}

std::unique_ptr<SQLite::Database> OpenDatabase(const std::string& path, bool writable, bool create,
                                               int busy_timeout_ms, unsigned file_mode) {
  if (writable && file_mode != 0 && ((file_mode & ~0777u) != 0 || (file_mode & 0600u) != 0600u))
    throw InvalidArgument(path + ": file_mode " + Octal(file_mode) +
                          " must include owner read and write (0600) and nothing above 0777");
  if (std::string problem = PathProblem(path, writable, create); !problem.empty()) throw DatabaseError(problem);
  struct stat st;
  bool exists = stat(path.c_str(), &st) == 0;
  if (!create && !exists) throw DatabaseError(path + ": no such file (and create_if_missing is false)");
  struct stat folder;
  if (writable && create && !exists && stat(FolderOf(path).c_str(), &folder) == 0 && !Writable(FolderOf(path)))
    throw DatabaseError(ReadOnlyMessage(path, FolderOf(path)));
  if (writable && create && !exists && file_mode != 0) {
    CreateWithMode(path, file_mode);
    exists = stat(path.c_str(), &st) == 0;
  }
  if (exists) RejectTruncated(path, st);
  if (writable && exists) RequireWritable(path);
  int flags = writable ? SQLite::OPEN_READWRITE : SQLite::OPEN_READONLY;
  if (writable && create) flags |= SQLite::OPEN_CREATE;
  // FULLMUTEX is not needed: every connection is guarded by its owner's mutex.
  flags |= SQLite::OPEN_NOMUTEX;
  return GuardSqlite(path, "cannot open", [&] {
    return RetryWhileBusy(busy_timeout_ms, [&] {
      auto db = std::make_unique<SQLite::Database>(path, flags, busy_timeout_ms);
      // No connection of ours checkpoints when it closes: SQLite's last
      // connection would (PASSIVE, then syncing the WAL and the database and
      // emptying the WAL, so that the next writer restarts it with a synced
      // header): four device flushes for every process that opens the file
      // alone, such as each run of the CLI. Checkpoints follow our policy
      // (docs/checkpoints.md, "Closing").
      sqlite3_db_config(db->getHandle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
      // Fails here, not on first use, for files that are not databases at all.
      try {
        db->exec(sql::kCountSchemaObjects);
      } catch (const SQLite::Exception& e) {
        if ((e.getErrorCode() & 0xff) == SQLITE_NOTADB)
          throw DatabaseError(path + ": file is not a database (another program's file?): choose another path, "
                                     "or move it away");
        throw;
      }
      return db;
    });
  });
}

void ConfigureWriter(SQLite::Database& db, const Options& options) {
  db.exec(options.synchronous == Synchronous::kFull ? sql::kSynchronousFull : sql::kSynchronousNormal);
  // No automatic PASSIVE checkpoints: only ours (store/checkpointer.h).
  db.exec(sql::kNoAutomaticCheckpoints);
  // A WAL restarted after a checkpoint is cut back to this length: twice
  // what a checkpoint lets it reach (frames are a page of the file's size
  // plus a 24-byte header), so that in steady state it is overwritten in
  // place rather than cut and regrown by every restart, which would truncate
  // the file inside a writer's transaction.
  const int64_t pages = options.checkpoint_wal_pages > 0 ? options.checkpoint_wal_pages : 0;
  const int64_t page_size = db.execAndGet(sql::kPageSizePragma).getInt64();
  db.exec(sql::SetJournalSizeLimit(2 * pages * (page_size + 24) + 32));
  // Keep the -wal and -shm files when the last writer closes, so that a
  // reader without write access to the directory (a server running as
  // another user) can still open the file read-only.
  int persist = 1;
  sqlite3_file_control(db.getHandle(), "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
}

namespace {
constexpr long kCheckpointLockByte = 120 + 1;  // WALINDEX_LOCK_OFFSET + WAL_CKPT_LOCK

// Whether /proc/locks shows a POSIX lock on byte `byte` of PATH-shm (a WRITE
// lock when `write_only`) held by a process other than `except` (0: by
// any). False when the -shm or /proc/locks does not exist.
bool ShmByteLocked(const std::string& path, long byte, bool write_only, pid_t except) {
  struct stat st;
  if (stat((path + "-shm").c_str(), &st) != 0) return false;
  FILE* locks = std::fopen("/proc/locks", "re");
  if (!locks) return false;
  // "1: POSIX  ADVISORY  WRITE 1234 fd:01:567 121 121" (a blocked waiter's
  // line has "->" and holds nothing; SQLite never blocks on these locks).
  char file[64];
  std::snprintf(file, sizeof file, "%02x:%02x:%lu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long>(st.st_ino));
  bool held = false;
  char line[256];
  while (!held && std::fgets(line, sizeof line, locks)) {
    char access[16], id[64], end[24];
    long pid = 0, start = 0;
    if (std::strstr(line, "->") ||
        std::sscanf(line, "%*s %*s %*s %15s %ld %63s %ld %23s", access, &pid, id, &start, end) != 5)
      continue;
    if (std::strcmp(id, file) != 0 || (write_only && std::strcmp(access, "WRITE") != 0)) continue;
    if (except != 0 && pid == except) continue;
    const long last = std::strcmp(end, "EOF") == 0 ? byte : std::atol(end);
    held = start <= byte && byte <= last;
  }
  std::fclose(locks);
  return held;
}

}  // namespace

bool CheckpointInProgress(const std::string& path) {
  return ShmByteLocked(path, kCheckpointLockByte, true, 0);
}

bool OthersHaveItOpen(const std::string& path) {
  // Every connection that uses the -shm holds a read lock on this byte
  // while it is open; the first to open it finds none and rebuilds the
  // WAL's index from the whole WAL.
  constexpr long kDeadManSwitchByte = 120 + 8;  // UNIX_SHM_BASE + SQLITE_SHM_NLOCK
  return ShmByteLocked(path, kDeadManSwitchByte, false, getpid());
}

bool CheckpointProbe::InProgress(const std::string& path) {
  struct stat shm, open_file;
  if (stat((path + "-shm").c_str(), &shm) != 0) return false;
  if (fd_ < 0 || fstat(fd_, &open_file) != 0 || !SameFile(open_file, shm)) fd_ = FindOpenDescriptor(shm);
  if (fd_ >= 0) {
    struct flock probe {};
    probe.l_type = F_RDLCK;  // conflicts with a write lock only: a checkpoint's
    probe.l_whence = SEEK_SET;
    probe.l_start = kCheckpointLockByte;
    probe.l_len = 1;
    if (fcntl(fd_, F_OFD_GETLK, &probe) == 0) return probe.l_type != F_UNLCK;
  }
  return CheckpointInProgress(path);
}

void WaitWhileCheckpointing(const std::string& path, std::chrono::milliseconds bound, CheckpointProbe* probe) {
  const auto until = std::chrono::steady_clock::now() + bound;
  auto in_progress = [&] { return probe ? probe->InProgress(path) : CheckpointInProgress(path); };
  while (std::chrono::steady_clock::now() < until && in_progress())
    std::this_thread::sleep_for(std::chrono::microseconds(100));
}

}  // namespace promsqlite::detail

// ---------------------------------------------------------------------------
// Reading a file whose -wal a writer in another language removed.

namespace promsqlite::detail {

namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// "file:" URI of `path` for sqlite3_open_v2 with SQLITE_OPEN_URI: the
// characters a URI gives a meaning escaped, an absolute path after an
// empty authority (a path starting with "//" would name a host).
std::string FileUri(const std::string& path, const char* query) {
  std::string uri = path[0] == '/' ? "file://" : "file:";
  for (char c : path) {
    if (c == '%') uri += "%25";
    else if (c == '?') uri += "%3f";
    else if (c == '#') uri += "%23";
    else uri += c;
  }
  return uri + "?" + query;
}

bool SameFileState(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

}  // namespace

WalFreeRead::~WalFreeRead() {
  db_.reset();  // before the lock: its descriptor is closed (or deferred) by SQLite while we still lock
  if (file_ != nullptr) {
    if (file_->pMethods != nullptr) {
      file_->pMethods->xUnlock(file_, SQLITE_LOCK_NONE);
      file_->pMethods->xClose(file_);
    }
    sqlite3_free(file_);
  }
}

std::unique_ptr<WalFreeRead> WalFreeRead::Open(const std::string& path, int busy_timeout_ms) {
  const std::string wal = path + "-wal", shm = path + "-shm";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  auto late = [&] { return std::chrono::steady_clock::now() >= deadline; };
  for (;;) {
    if (Exists(wal)) {
      // A writer is creating them (the -wal first, the -shm at its first
      // read); SQLite cannot open the pair read-only in between.
      if (Exists(shm) || Writable(FolderOf(path)) || late()) return nullptr;
      SleepMilliseconds(1);
      continue;
    }
    // No -wal: SQLite would create it and the -shm, which a reader that may
    // not write the folder cannot, and one that may should not (they would
    // be this process's files: a writer of another user could be locked out
    // of the -shm).
    std::unique_ptr<WalFreeRead> read(new WalFreeRead);
    // The SHARED lock, through SQLite's own VFS: it counts with this
    // process's connections (a descriptor of our own would drop their locks
    // when closed), and a writer that closes the file last needs EXCLUSIVE to
    // checkpoint into it and delete the -wal: it does neither while we read.
    sqlite3_vfs* vfs = sqlite3_vfs_find(nullptr);
    read->file_ = static_cast<sqlite3_file*>(sqlite3_malloc(vfs->szOsFile));
    if (read->file_ == nullptr) throw DatabaseError(path + ": cannot open: out of memory");
    std::memset(read->file_, 0, static_cast<size_t>(vfs->szOsFile));
    const char* name = sqlite3_create_filename(path.c_str(), "", "", 0, nullptr);
    if (name == nullptr) throw DatabaseError(path + ": cannot open: out of memory");
    int out_flags = 0;
    int rc = vfs->xOpen(vfs, name, read->file_, SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_READONLY, &out_flags);
    sqlite3_free_filename(name);
    if (rc != SQLITE_OK) return nullptr;  // SQLite's open will say why
    // Only a file in WAL mode needs its -wal (header bytes 18 and 19 are 2).
    unsigned char header[20] = {0};
    if (read->file_->pMethods->xRead(read->file_, header, sizeof header, 0) != SQLITE_OK || header[18] != 2 ||
        header[19] != 2)
      return nullptr;
    // Busy while a writer that closes the file last checkpoints it and
    // deletes the -wal and -shm (it holds EXCLUSIVE meanwhile).
    while ((rc = read->file_->pMethods->xLock(read->file_, SQLITE_LOCK_SHARED)) == SQLITE_BUSY && !late())
      SleepMilliseconds(1);
    if (rc != SQLITE_OK) return nullptr;
    if (Exists(wal)) continue;  // a writer began meanwhile: read it the usual way
    if (stat(path.c_str(), &read->at_start_) != 0) return nullptr;
    // With no -wal and the lock held, the database file holds every commit
    // (the last closer copied the WAL into it) and stays as it is unless a
    // writer begins anew and checkpoints during the read (CheckUnchanged).
    read->db_ = GuardSqlite(path, "cannot open", [&] {
      return std::make_unique<SQLite::Database>(
          FileUri(path, "immutable=1"), SQLite::OPEN_READONLY | SQLite::OPEN_URI | SQLite::OPEN_NOMUTEX,
          busy_timeout_ms);
    });
    read->path_ = path;
    return read;
  }
}

void WalFreeRead::CheckUnchanged() const {
  if (!Exists(path_ + "-wal")) return;  // no writer began: nothing could change the file
  struct stat now;
  // A writer began during the read: only a checkpoint writes the database
  // file, and a write moves its modification time.
  if (stat(path_.c_str(), &now) == 0 && SameFileState(now, at_start_)) return;
  throw DatabaseError(path_ +
                      ": cannot read: a writer checkpointed into the file while it was read without its -wal "
                      "(which a writer that closed the file last removed): read again");
}

}  // namespace promsqlite::detail
