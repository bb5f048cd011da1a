#pragma once

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>

namespace deltastream::gateway {

// The server's TLS context from a PEM certificate chain and its PEM private key, loaded
// once at start: an unreadable file, or a key that does not match the certificate,
// throws config_error naming the file (--tls-cert / --tls-key). TLS 1.2 and later.
std::unique_ptr<boost::asio::ssl::context> load_tls_context(const std::string& cert_file,
                                                            const std::string& key_file);

}  // namespace deltastream::gateway
