// HTTP basic auth against bcrypt hashes, checked with the system's crypt(3)
// (libxcrypt: $2a$, $2b$ and $2y$).
//
// bcrypt is slow on purpose (tens of milliseconds per check), so accepted
// credentials are remembered by their SHA-256 digest and a scrape every few
// seconds costs one hash, not one bcrypt. Wrong credentials are never cached.
//
// Thread safety: safe for concurrent use.
#ifndef PROMSQLITE_SERVER_BASIC_AUTH_H_
#define PROMSQLITE_SERVER_BASIC_AUTH_H_

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace promsqlite_server {

// True when `hash` is a bcrypt hash this system's crypt(3) can check;
// otherwise *why says what is wrong.
bool IsUsableBcryptHash(const std::string& hash, std::string* why);

class BasicAuth {
 public:
  // users: user name -> bcrypt hash. An empty map lets everyone in.
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }

  // Checks an Authorization header value ("Basic base64(user:password)").
  bool Check(std::string_view authorization);

 private:
  bool Verify(const std::string& user, const std::string& password);

  std::map<std::string, std::string> users_;
  std::mutex mu_;
  std::set<std::string> accepted_;  // SHA-256 of user, password and hash
};

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_BASIC_AUTH_H_
