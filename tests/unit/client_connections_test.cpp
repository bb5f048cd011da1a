#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include "gateway/client_connections.hpp"

using deltastream::gateway::client_connections;
using deltastream::gateway::connection_token;
namespace ip = boost::asio::ip;

TEST_CASE("connections are counted per address up to the limit, and released with the token") {
  auto counts = std::make_shared<client_connections>(2);
  const auto a = ip::make_address("10.0.0.1");
  const auto b = ip::make_address("10.0.0.2");
  std::vector<connection_token> held;
  held.push_back(*counts->admit(a));
  held.push_back(*counts->admit(a));
  CHECK_FALSE(counts->admit(a));
  CHECK(counts->open(a) == 2);
  auto other = counts->admit(b);  // another address has its own count
  REQUIRE(other);
  CHECK(counts->open(b) == 1);
  held.pop_back();
  CHECK(counts->open(a) == 1);
  auto again = counts->admit(a);
  CHECK(again);
  held.clear();
  again.reset();
  other.reset();
  CHECK(counts->open(a) == 0);
  CHECK(counts->open(b) == 0);
}

TEST_CASE("a moved token counts once, and IPv4-mapped IPv6 is its IPv4 address") {
  auto counts = std::make_shared<client_connections>(1);
  auto token = counts->admit(ip::make_address("::ffff:127.0.0.2"));
  REQUIRE(token);
  CHECK(counts->open(ip::make_address("127.0.0.2")) == 1);
  CHECK_FALSE(counts->admit(ip::make_address("127.0.0.2")));
  connection_token moved = std::move(*token);
  token.reset();  // the moved-from token releases nothing
  CHECK(counts->open(ip::make_address("127.0.0.2")) == 1);
  auto second = counts->admit(ip::make_address("127.0.0.3"));
  REQUIRE(second);
  moved = std::move(*second);  // assigning releases what `moved` held
  CHECK(counts->open(ip::make_address("127.0.0.2")) == 0);
  CHECK(counts->open(ip::make_address("127.0.0.3")) == 1);
}

TEST_CASE("tokens outlive the table's other owners") {
  auto counts = std::make_shared<client_connections>(1);
  const std::weak_ptr<client_connections> table = counts;
  auto token = counts->admit(ip::make_address("10.0.0.1"));
  REQUIRE(token);
  counts.reset();  // the listener is gone; the session still holds its token
  CHECK_FALSE(table.expired());
  token.reset();  // releasing it touches the table (ASan would see a use after free)
  CHECK(table.expired());
}
