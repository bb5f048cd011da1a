#pragma once

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "gateway/gateway_context.hpp"

namespace deltastream::gateway {

// Where --server-host and --server-port say to listen: every address the host name
// resolves to, each once (`localhost`: 127.0.0.1 and ::1, always); `0.0.0.0` every IPv4 address,
// `::` every address of both families. Without tokens and without
// --allow-unauthenticated, an address other than loopback becomes the loopback address
// of its family, with a warning. Throws config_error when the name does not resolve.
std::vector<boost::asio::ip::tcp::endpoint> listen_addresses(boost::asio::io_context& io,
                                                             const gateway_settings& settings);

// "http://127.0.0.1:12312", "https://[::1]:12312": for log lines.
std::string describe_endpoint(const boost::asio::ip::tcp::endpoint& endpoint, bool tls);

}  // namespace deltastream::gateway
