#include "gateway/listen_addresses.hpp"

#include <algorithm>
#include <cctype>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

namespace {

bool is_localhost(std::string host) {
  std::transform(host.begin(), host.end(), host.begin(), [](unsigned char c) { return std::tolower(c); });
  return host == "localhost" || host == "localhost.";
}

}  // namespace

std::vector<net::ip::tcp::endpoint> listen_addresses(net::io_context& io, const gateway_settings& settings) {
  // Both loopback addresses, whatever /etc/hosts lists first (RFC 6761: localhost is
  // loopback): a client that says 127.0.0.1 and one whose localhost is ::1 both connect.
  if (is_localhost(settings.host)) {
    return {{net::ip::address_v4::loopback(), settings.port}, {net::ip::address_v6::loopback(), settings.port}};
  }
  net::ip::tcp::resolver resolver(io);
  boost::system::error_code error;
  // passive: an empty host means the wildcard addresses, as for any server.
  const auto results = resolver.resolve(settings.host, std::to_string(settings.port),
                                        net::ip::tcp::resolver::passive, error);
  if (error || results.empty()) {
    throw config_error("--server-host: cannot resolve \"" + settings.host + "\": " + error.message());
  }
  const auto& access = settings.access;
  const bool loopback_only = !access.tokens && !access.allow_unauthenticated;
  std::vector<net::ip::tcp::endpoint> endpoints;
  for (const auto& result : results) {
    auto endpoint = result.endpoint();
    if (loopback_only && !endpoint.address().is_loopback()) {
      module_logger("gateway")->warn(
          "no --token-file: serving without authentication, so on loopback only instead of {} "
          "(give --token-file, or --allow-unauthenticated behind your own authentication)",
          endpoint.address().to_string());
      endpoint.address(endpoint.address().is_v6() ? net::ip::address(net::ip::address_v6::loopback())
                                                  : net::ip::address(net::ip::address_v4::loopback()));
    }
    if (std::find(endpoints.begin(), endpoints.end(), endpoint) == endpoints.end()) endpoints.push_back(endpoint);
  }
  // `::` listens on both families (v6_only off): its IPv4 twin would only collide with it.
  const auto dual_stack = std::find_if(endpoints.begin(), endpoints.end(), [](const auto& endpoint) {
    return endpoint.address().is_v6() && endpoint.address().is_unspecified();
  });
  if (dual_stack != endpoints.end()) {
    std::erase_if(endpoints, [](const auto& endpoint) {
      return endpoint.address().is_v4() && endpoint.address().is_unspecified();
    });
  }
  return endpoints;
}

std::string describe_endpoint(const net::ip::tcp::endpoint& endpoint, bool tls) {
  const auto address = endpoint.address().to_string();
  const auto host = endpoint.address().is_v6() ? "[" + address + "]" : address;
  return std::string(tls ? "https://" : "http://") + host + ":" + std::to_string(endpoint.port());
}

}  // namespace deltastream::gateway
