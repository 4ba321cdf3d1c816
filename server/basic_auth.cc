#include "basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

namespace promsqlite_server {

namespace {

// Bounds the cache: a client cycling through valid passwords cannot grow it.
constexpr size_t kMaxCachedCredentials = 256;

bool Base64Decode(std::string_view in, std::string* out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  out->clear();
  unsigned buffer = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return false;
    buffer = (buffer << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return bits < 6;
}

// crypt_rn into heap storage: struct crypt_data is too big for small stacks.
bool CryptMatches(const std::string& password, const std::string& hash) {
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') return false;
  size_t n = std::strlen(out);
  return n == hash.size() && CRYPTO_memcmp(out, hash.data(), n) == 0;
}

std::string Digest(const std::string& user, const std::string& password, const std::string& hash) {
  std::string input = user;
  input += '\0';
  input += password;
  input += '\0';
  input += hash;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(input.data(), input.size(), md, &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(&input[0], input.size());
  return std::string(reinterpret_cast<char*>(md), len);
}

}  // namespace

bool IsUsableBcryptHash(const std::string& hash, std::string* why) {
  if (hash.size() != 60 || hash[0] != '$' || hash[1] != '2' ||
      (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') || hash[3] != '$') {
    *why = "not a bcrypt hash ($2a$, $2b$ or $2y$ followed by 53 characters)";
    return false;
  }
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn("", hash.c_str(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*') {
    *why = "this system's crypt(3) cannot check this bcrypt hash";
    return false;
  }
  return true;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}

bool BasicAuth::Check(std::string_view authorization) {
  if (!enabled()) return true;
  constexpr std::string_view kScheme = "basic ";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  std::string decoded;
  if (!Base64Decode(authorization.substr(kScheme.size()), &decoded)) return false;
  size_t colon = decoded.find(':');
  if (colon == std::string::npos) return false;
  std::string user = decoded.substr(0, colon);
  std::string password = decoded.substr(colon + 1);
  bool ok = Verify(user, password);
  OPENSSL_cleanse(&decoded[0], decoded.size());
  if (!password.empty()) OPENSSL_cleanse(&password[0], password.size());
  return ok;
}

bool BasicAuth::Verify(const std::string& user, const std::string& password) {
  auto it = users_.find(user);
  // An unknown user still costs one bcrypt, so response times do not tell
  // which user names exist.
  const std::string& hash = it != users_.end() ? it->second : users_.begin()->second;
  std::string digest = Digest(user, password, hash);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (it != users_.end() && accepted_.count(digest)) return true;
  }
  bool ok = CryptMatches(password, hash) && it != users_.end();
  if (ok) {
    std::lock_guard<std::mutex> lock(mu_);
    if (accepted_.size() >= kMaxCachedCredentials) accepted_.clear();
    accepted_.insert(digest);
  }
  return ok;
}

}  // namespace promsqlite_server
