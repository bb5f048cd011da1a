// The gateway's write-coalescing layer over a real loopback TCP connection: held writes
// leave in one send, back pressure holds, teardown sends what is held, a failed send
// fails what follows, and Beast's WebSocket runs over it unchanged.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>

#include "gateway/write_coalescing_stream.hpp"

using namespace deltastream::gateway;
namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;
using coalescing = write_coalescing_stream<beast::tcp_stream>;

namespace {

// A connected pair on loopback: `server` wrapped in the layer, `client` a plain socket.
struct connection {
  net::io_context io;
  coalescing server{io};
  tcp::socket client{io};
  std::deque<std::string> texts;  // what was written: a pending write still refers to it

  connection() {
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    server.next_layer().socket() = acceptor.accept();
  }

  struct outcome {
    bool finished = false;
    beast::error_code error;
  };

  // Starts writing `text` through the layer; the text lives as long as the connection.
  std::shared_ptr<outcome> start_write(std::string text, bool hold) {
    if (hold) server.hold_next_write();
    const auto& kept = texts.emplace_back(std::move(text));
    auto result = std::make_shared<outcome>();
    net::async_write(server, net::buffer(kept), [result](beast::error_code error, std::size_t) {
      result->error = error;
      result->finished = true;
    });
    return result;
  }

  // Writes `text` and runs the I/O until the write completes (or 2 s).
  beast::error_code write(std::string text, bool hold, bool* done = nullptr) {
    const auto result = start_write(std::move(text), hold);
    run_until([&] { return result->finished; });
    if (done) *done = result->finished;
    return result->error;
  }

  template <class Predicate>
  void run_until(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(2)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(5));
      io.restart();
    }
  }

  std::string read_exactly(std::size_t bytes) {
    std::string text(bytes, '\0');
    net::read(client, net::buffer(text));
    return text;
  }
};

}  // namespace

TEST_CASE("write_coalescing_stream: held writes complete at once and leave with the next "
          "unheld write, in order") {
  connection c;
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    const std::string piece = "message " + std::to_string(i) + ";";
    REQUIRE_FALSE(c.write(piece, true));
    expected += piece;
  }
  c.run_until([] { return false; }, std::chrono::milliseconds(50));
  CHECK(c.client.available() == 0);  // nothing sent yet
  CHECK(c.server.held_bytes() == expected.size());
  REQUIRE_FALSE(c.write("last;", false));
  expected += "last;";
  c.run_until([&] { return c.client.available() >= expected.size(); });
  CHECK(c.read_exactly(expected.size()) == expected);
  CHECK(c.server.held_bytes() == 0);
}

TEST_CASE("write_coalescing_stream: a client that reads nothing stops the writes; reading "
          "lets them all through, byte for byte") {
  connection c;
  const std::string chunk(10000, 'x');
  std::string expected;
  bool done = true;
  int writes = 0;
  // Loopback buffers take some megabytes; then a write must stay pending.
  while (done && writes < 10000) {
    std::string text = chunk;
    text.replace(0, std::to_string(writes).size(), std::to_string(writes));
    expected += text;
    REQUIRE_FALSE(c.write(std::move(text), writes % 3 != 0, &done));
    ++writes;
  }
  REQUIRE_FALSE(done);  // back pressure: the last write is waiting for room
  CHECK(c.server.held_bytes() <= coalescing::capacity);

  // Read everything; once the waiting write is through, an unheld write sends the rest.
  std::shared_ptr<connection::outcome> end_write;
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (received.size() < expected.size() + 3 && std::chrono::steady_clock::now() < deadline) {
    c.io.poll();
    c.io.restart();
    if (!end_write && c.server.held_bytes() < coalescing::capacity / 2) {
      end_write = c.start_write("end", false);
    }
    const auto ready = c.client.available();
    if (ready > 0) received += c.read_exactly(ready);
  }
  REQUIRE(end_write);
  CHECK(end_write->finished);
  CHECK(received == expected + "end");
}

TEST_CASE("write_coalescing_stream: teardown sends the held bytes before it shuts down") {
  connection c;
  REQUIRE_FALSE(c.write("held until teardown", true));
  bool torn_down = false;
  async_teardown(beast::role_type::server, c.server, [&](beast::error_code) { torn_down = true; });
  c.client.shutdown(tcp::socket::shutdown_send);  // Beast's teardown reads until EOF
  c.run_until([&] { return torn_down; });
  CHECK(torn_down);
  std::string received;
  beast::error_code error;
  std::array<char, 256> buffer;
  for (;;) {
    const auto n = c.client.read_some(net::buffer(buffer), error);
    received.append(buffer.data(), n);
    if (error) break;
  }
  CHECK(received == "held until teardown");
  CHECK(error == net::error::eof);
}

TEST_CASE("write_coalescing_stream: after a failed send every write fails") {
  connection c;
  c.client.set_option(net::socket_base::linger(true, 0));  // close with a reset
  c.client.close();
  beast::error_code error;
  for (int i = 0; i < 100 && !error; ++i) error = c.write(std::string(1000, 'y'), false);
  CHECK(error);  // the reset reached a send, and a later write reported it
  CHECK(c.write("after", true));
  CHECK(c.write("after", false));
}

TEST_CASE("write_coalescing_stream: a Beast WebSocket over it sends every message whole, "
          "answers pings and closes with its reason") {
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
  beast::websocket::stream<coalescing> server(io);
  beast::websocket::stream<tcp::socket> client(io);
  client.next_layer().connect(acceptor.local_endpoint());
  server.next_layer().next_layer().socket() = acceptor.accept();

  constexpr int messages = 200;
  std::vector<std::string> received;
  beast::websocket::close_reason close_seen;
  bool pong_seen = false;
  beast::flat_buffer buffer;
  std::function<void()> read_next = [&] {
    client.async_read(buffer, [&](beast::error_code error, std::size_t) {
      if (error) {
        close_seen = client.reason();
        return;
      }
      received.push_back(beast::buffers_to_string(buffer.data()));
      buffer.consume(buffer.size());
      read_next();
    });
  };
  client.control_callback([&](beast::websocket::frame_type kind, beast::string_view) {
    if (kind == beast::websocket::frame_type::pong) pong_seen = true;
  });

  int sent = 0;
  std::function<void()> write_next = [&] {
    if (sent == messages) {
      return server.async_close(beast::websocket::close_reason(beast::websocket::close_code::going_away, "done"),
                                [](beast::error_code) {});
    }
    // All but every tenth are held: a ping answered meanwhile still goes out.
    if (sent % 10 != 9) server.next_layer().hold_next_write();
    auto text = std::make_shared<std::string>("change " + std::to_string(sent++));
    server.async_write(net::buffer(*text), [&, text](beast::error_code error, std::size_t) {
      REQUIRE_FALSE(error);
      write_next();
    });
  };
  bool server_reading = false;
  beast::flat_buffer server_buffer;
  server.async_accept([&](beast::error_code error) {
    REQUIRE_FALSE(error);
    server_reading = true;
    server.async_read(server_buffer, [](beast::error_code, std::size_t) {});  // answers pings
    write_next();
  });
  client.async_handshake("localhost", "/", [&](beast::error_code error) {
    REQUIRE_FALSE(error);
    client.async_ping({}, [](beast::error_code) {});
    read_next();
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (close_seen.code == beast::websocket::close_code::none && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
  CHECK(server_reading);
  REQUIRE(received.size() == messages);
  for (int i = 0; i < messages; ++i) CHECK(received[i] == "change " + std::to_string(i));
  CHECK(pong_seen);
  CHECK(close_seen.code == beast::websocket::close_code::going_away);
  CHECK(close_seen.reason == "done");
}
