#include "gateway/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/errors.hpp"

namespace deltastream::gateway {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's own reason ("no start line", "key values mismatch") says what is wrong
// with a file that opens; errno says why one does not.
void check_readable(const char* flag, const std::string& file) {
  std::ifstream in(file);
  if (!in) throw config_error(std::string(flag) + " " + file + ": cannot read: " + std::strerror(errno));
}

[[noreturn]] void fail(const char* flag, const std::string& file, const std::string& what,
                       const boost::system::error_code& error) {
  throw config_error(std::string(flag) + " " + file + ": " + what + ": " + error.message());
}

}  // namespace

std::unique_ptr<ssl::context> load_tls_context(const std::string& cert_file, const std::string& key_file) {
  check_readable("--tls-cert", cert_file);
  check_readable("--tls-key", key_file);
  auto context = std::make_unique<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  boost::system::error_code error;
  context->use_certificate_chain_file(cert_file, error);
  if (error) fail("--tls-cert", cert_file, "not a PEM certificate chain", error);
  context->use_private_key_file(key_file, ssl::context::pem, error);
  // OpenSSL checks the pair here ("key values mismatch"), and again below for key types
  // where it cannot.
  if (error) fail("--tls-key", key_file, "not the PEM private key of --tls-cert " + cert_file, error);
  if (SSL_CTX_check_private_key(context->native_handle()) != 1) {
    const auto reason = ERR_reason_error_string(ERR_get_error());
    throw config_error("--tls-key " + key_file + ": does not match the certificate in --tls-cert " +
                       cert_file + (reason ? std::string(" (") + reason + ")" : std::string()));
  }
  return context;
}

}  // namespace deltastream::gateway
