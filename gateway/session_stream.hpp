#pragma once

#include <type_traits>

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace deltastream::gateway {

// The two kinds of client connection. http_session and websocket_session are templates
// over them, as in Beast's advanced_server_flex, minus its sniffing for TLS: given a
// certificate, every connection is TLS. Each is instantiated for both in its .cpp.
using plain_stream = boost::beast::tcp_stream;
using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;

template <class Stream>
inline constexpr bool is_tls = std::is_same_v<Stream, tls_stream>;

}  // namespace deltastream::gateway
