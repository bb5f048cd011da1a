#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>

#include <boost/asio/ip/address.hpp>

namespace deltastream::gateway {

class client_connections;

// One open connection from one client address, counted while the token lives: the
// http_session holds it and hands it to the websocket_session on upgrade. Move-only.
class connection_token {
 public:
  connection_token(connection_token&& other) noexcept = default;
  connection_token& operator=(connection_token&& other) noexcept;
  connection_token(const connection_token&) = delete;
  connection_token& operator=(const connection_token&) = delete;
  ~connection_token();

  // The client's address, for log lines about its requests.
  const boost::asio::ip::address& address() const { return address_; }

 private:
  friend class client_connections;
  connection_token(std::shared_ptr<client_connections> owner, boost::asio::ip::address address);
  void release();

  std::shared_ptr<client_connections> owner_;  // shared: a session may outlive the listener
  boost::asio::ip::address address_;
};

// Open connections per client address, against --max-connections-per-client. I/O
// thread only, like the sessions that hold the tokens.
class client_connections : public std::enable_shared_from_this<client_connections> {
 public:
  explicit client_connections(std::size_t limit) : limit_(limit) {}

  // A token for one more connection from `address`, or none when it has `limit` open.
  std::optional<connection_token> admit(boost::asio::ip::address address);
  std::size_t open(boost::asio::ip::address address) const;
  std::size_t limit() const { return limit_; }

  // An IPv6 socket sees IPv4 clients as ::ffff:a.b.c.d: count them as a.b.c.d.
  static boost::asio::ip::address client_of(const boost::asio::ip::address& address);

 private:
  friend class connection_token;
  void release(const boost::asio::ip::address& address);

  std::size_t limit_;
  std::map<boost::asio::ip::address, std::size_t> open_;  // addresses with ≥ 1 open
};

}  // namespace deltastream::gateway
