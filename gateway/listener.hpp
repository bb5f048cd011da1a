#pragma once

#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

#include "gateway/client_connections.hpp"
#include "gateway/gateway_context.hpp"

namespace deltastream::gateway {

// Accepts connections and starts an http_session for each, holding one of its client's
// --max-connections-per-client; refuses the connections over that.
class listener : public std::enable_shared_from_this<listener> {
 public:
  // Listens on `endpoint` (`::` on both families); nullptr and `error` when it cannot.
  // `connections` is shared by every listener: a client's limit holds across addresses.
  static std::shared_ptr<listener> open(gateway_context& context, std::shared_ptr<client_connections> connections,
                                        const boost::asio::ip::tcp::endpoint& endpoint,
                                        boost::beast::error_code& error);
  listener(gateway_context& context, std::shared_ptr<client_connections> connections);
  void run();
  void stop();
  boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  void accept_next();
  void on_accept(boost::beast::error_code error, boost::asio::ip::tcp::socket socket);
  void refuse_crowded(boost::asio::ip::tcp::socket& socket, const boost::asio::ip::address& client);

  gateway_context& context_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<client_connections> connections_;
};

}  // namespace deltastream::gateway
