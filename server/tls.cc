#include "tls.h"

#include <openssl/err.h>

namespace promsqlite_server {

namespace {

std::string OpenSslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof(buf));
  return buf;
}

int ProtocolVersion(const std::string& name) {
  if (name == "TLS10") return TLS1_VERSION;
  if (name == "TLS11") return TLS1_1_VERSION;
  if (name == "TLS13") return TLS1_3_VERSION;
  return TLS1_2_VERSION;
}

}  // namespace

bool ConfigureTls(SSL_CTX& ctx, const TlsConfig& tls, std::string* error) {
  ERR_clear_error();
  SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
  if (!SSL_CTX_set_min_proto_version(&ctx, ProtocolVersion(tls.min_version)) ||
      (!tls.max_version.empty() &&
       !SSL_CTX_set_max_proto_version(&ctx, ProtocolVersion(tls.max_version)))) {
    *error = "cannot set the TLS versions: " + OpenSslError();
    return false;
  }
  if (SSL_CTX_use_certificate_chain_file(&ctx, tls.cert_file.c_str()) != 1) {
    *error = "cannot load cert_file " + tls.cert_file + ": " + OpenSslError();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(&ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "cannot load key_file " + tls.key_file + ": " + OpenSslError();
    return false;
  }
  if (SSL_CTX_check_private_key(&ctx) != 1) {
    *error = "key_file " + tls.key_file + " does not match cert_file " + tls.cert_file;
    return false;
  }
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(&ctx, tls.client_ca_file.c_str(), nullptr) != 1) {
      *error = "cannot load client_ca_file " + tls.client_ca_file + ": " + OpenSslError();
      return false;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names) SSL_CTX_set_client_CA_list(&ctx, names);
  }
  int mode = SSL_VERIFY_NONE;
  if (tls.client_auth_type == "VerifyClientCertIfGiven") mode = SSL_VERIFY_PEER;
  if (tls.client_auth_type == "RequireAndVerifyClientCert")
    mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(&ctx, mode, nullptr);
  return true;
}

}  // namespace promsqlite_server
