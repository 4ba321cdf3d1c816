// Sets up the OpenSSL context of the HTTPS server from a TlsConfig.
#ifndef PROMSQLITE_SERVER_TLS_H_
#define PROMSQLITE_SERVER_TLS_H_

#include <openssl/ssl.h>

#include <string>

#include "web_config.h"

namespace promsqlite_server {

// Loads the certificate chain, key and client CAs, sets protocol versions
// and client verification. False with *error naming the file and OpenSSL's
// reason when something cannot be loaded.
bool ConfigureTls(SSL_CTX& ctx, const TlsConfig& tls, std::string* error);

}  // namespace promsqlite_server

#endif  // PROMSQLITE_SERVER_TLS_H_
