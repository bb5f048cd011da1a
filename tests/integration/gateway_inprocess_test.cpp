// The gateway and the reader in this process, against the test PostgreSQL (PGTEST_DSN),
// driven by Beast's own HTTP and WebSocket clients.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <simdjson.h>

#include "common/logging.hpp"
#include "common/lsn.hpp"
#include "common/pg_connection.hpp"
#include "gateway/gateway.hpp"
#include "reader/reader_service.hpp"

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace deltastream;

namespace {

std::string test_dsn() {
  const char* dsn = std::getenv("PGTEST_DSN");
  if (!dsn) FAIL("PGTEST_DSN is not set: run the suite through ./tests/run.sh");
  return dsn;
}

// A reader and a gateway on free ports, each on its own thread.
struct running_pair {
  zmq::context_t zmq;
  reader::reader_options reader_options;
  std::unique_ptr<reader::reader_service> reader;
  std::atomic<bool> reader_stop{false};
  std::thread reader_thread;
  gateway::gateway_options gateway_options;
  std::unique_ptr<gateway::gateway> gateway;
  std::thread gateway_thread;
  unsigned short port = 0;

  running_pair() {
    reader_options.control_endpoint = "tcp://127.0.0.1:*";
    reader_options.publish_endpoint = "tcp://127.0.0.1:*";
    reader_options.registry.conninfo = test_dsn();
    // As the reader reads it (tests/run-without-wal2json.sh sets pgoutput).
    if (const char* plugin = std::getenv("DELTASTREAM_PLUGIN")) reader_options.registry.plugin = plugin;
    reader = std::make_unique<reader::reader_service>(zmq, reader_options);
    reader_thread = std::thread([this] { reader->run(reader_stop); });
    gateway_options.conninfo = test_dsn();
    gateway_options.server.host = "127.0.0.1";
    gateway_options.server.port = 0;
    gateway_options.server.max_body_bytes = 4096;
    gateway_options.server.max_header_bytes = 2048;
    gateway_options.server.max_frame_bytes = 1024;
    gateway_options.link.control = reader->control_endpoint();
    gateway_options.link.publish = reader->publish_endpoint();
    gateway = std::make_unique<gateway::gateway>(gateway_options);
    port = gateway->endpoint().port();
    gateway_thread = std::thread([this] { gateway->run(); });
  }
  ~running_pair() {
    gateway->stop();
    gateway_thread.join();
    reader_stop = true;
    reader_thread.join();
  }
};

struct reply {
  unsigned status;
  std::string body;
  std::string content_type;
  std::string allow;
};

reply exchange(unsigned short port, http::request<http::string_body> request) {
  net::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  request.set(http::field::host, "127.0.0.1");
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  return {response.result_int(), response.body(), std::string(response[http::field::content_type]),
          std::string(response[http::field::allow])};
}

reply get(unsigned short port, const std::string& target) {
  return exchange(port, {http::verb::get, target, 11});
}

reply post(unsigned short port, const std::string& target, std::string body) {
  http::request<http::string_body> request{http::verb::post, target, 11};
  request.body() = std::move(body);
  return exchange(port, std::move(request));
}

std::string json_field(const std::string& json, const char* key) {
  simdjson::dom::parser parser;
  std::string_view value;
  if (parser.parse(json).get_object()[key].get_string().get(value)) return {};
  return std::string(value);
}

void sql(const std::string& statement) {
  auto conn = pg_connect(test_dsn(), connection_kind::sql);
  pg_exec(conn.get(), statement, {}, PGRES_COMMAND_OK);
}

lsn confirmed_flush(const std::string& slot) {
  auto conn = pg_connect(test_dsn(), connection_kind::sql);
  auto result = pg_exec(conn.get(),
                        "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1",
                        {slot});
  // A slot that vanished is a failure, not position 0/0 (which would pass a `<` check).
  if (PQntuples(result.get()) != 1) throw std::runtime_error("slot " + slot + " does not exist");
  return lsn::parse(PQgetvalue(result.get(), 0, 0)).value();
}

}  // namespace

TEST_CASE("HTTP routing and error bodies") {
  setup_logging("warn");
  running_pair pair;
  const auto port = pair.port;

  auto unknown = get(port, "/v2/nothing");
  CHECK(unknown.status == 404);
  CHECK(unknown.content_type == "application/json; charset=utf-8");
  CHECK(json_field(unknown.body, "error").find("not found") != std::string::npos);

  auto wrong_method = post(port, "/v1/init", "");
  CHECK(wrong_method.status == 405);
  CHECK(wrong_method.allow == "GET");
  CHECK(get(port, "/v1/snapshot/data").status == 405);

  CHECK(get(port, "/healthz").status == 200);

  auto no_snapshot = post(port, "/v1/snapshot/data", R"({"table":"t","offset":0,"limit":1})");
  CHECK(no_snapshot.status == 503);
  CHECK(json_field(no_snapshot.body, "error").find("snapshot not available") == 0);

  auto bad_json = post(port, "/v1/snapshot/data", "{not json");
  CHECK(bad_json.status == 400);
  CHECK(json_field(bad_json.body, "error").find("invalid input JSON") == 0);

  auto too_big = post(port, "/v1/snapshot/data", std::string(5000, ' '));
  CHECK(too_big.status == 413);
  CHECK(!json_field(too_big.body, "error").empty());

  http::request<http::string_body> long_headers{http::verb::get, "/healthz", 11};
  long_headers.set("X-Padding", std::string(4000, 'x'));
  CHECK(exchange(port, long_headers).status == 431);

  auto not_upgrade = get(port, "/v1/lr/stream?slotName=delta_x");
  CHECK(not_upgrade.status == 400);
  CHECK(json_field(not_upgrade.body, "error").find("could not upgrade") == 0);
  CHECK(json_field(get(port, "/v1/lr/stream").body, "error") == "no slotName provided");
}

TEST_CASE("a WebSocket consumer streams, ACKs, and gets error frames for bad ACKs") {
  setup_logging("warn");
  running_pair pair;
  const auto port = pair.port;
  sql("DROP TABLE IF EXISTS inprocess_rows");
  sql("CREATE TABLE inprocess_rows (id int PRIMARY KEY)");

  const auto init = get(port, "/v1/init");
  REQUIRE(init.status == 200);
  const auto slot = json_field(init.body, "slotName");
  REQUIRE(slot.rfind("delta_", 0) == 0);

  net::io_context io;
  websocket::stream<beast::tcp_stream> ws(io);
  beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  ws.handshake("127.0.0.1", "/v1/lr/stream?slotName=" + slot);

  sql("INSERT INTO inprocess_rows VALUES (1)");
  beast::flat_buffer buffer;
  std::string nextlsn;
  while (nextlsn.empty()) {  // skip empty transactions (autovacuum) if any
    ws.read(buffer);
    const auto text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    if (text.find("inprocess_rows") != std::string::npos) nextlsn = json_field(text, "nextlsn");
  }

  // The ACK reaches PostgreSQL; once fully acknowledged, an idle stream may advance
  // further, to the server's WAL end, so the position is at least the ACK.
  const auto acked = *lsn::parse(nextlsn);
  ws.write(net::buffer(std::string("{\"lsn\":\"") + nextlsn + "\"}"));
  for (int i = 0; i < 100 && confirmed_flush(slot) < acked; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(confirmed_flush(slot) >= acked);

  // Malformed and out-of-range ACKs: an error frame each, the connection stays open.
  for (const char* bad : {"nonsense", R"({"lsn":42})", R"({"lsn":"FF/FFFFFF00"})"}) {
    CAPTURE(bad);
    ws.write(net::buffer(std::string(bad)));
    ws.read(buffer);
    const auto text = beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    CHECK(!json_field(text, "error").empty());
  }
  CHECK(confirmed_flush(slot) < *lsn::parse("FF/FFFFFF00"));

  // A second consumer is refused with 409 at the upgrade, an unknown slot with 404:
  // Beast's client reports both as upgrade_declined, so the status is read raw.
  websocket::stream<beast::tcp_stream> second(io);
  beast::get_lowest_layer(second).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  beast::error_code error;
  second.handshake("127.0.0.1", "/v1/lr/stream?slotName=" + slot, error);
  CHECK(error == websocket::error::upgrade_declined);
  const auto upgrade = [port](const std::string& target) {
    http::request<http::string_body> request{http::verb::get, target, 11};
    request.set(http::field::connection, "Upgrade");
    request.set(http::field::upgrade, "websocket");
    request.set(http::field::sec_websocket_version, "13");
    request.set(http::field::sec_websocket_key, "dGhlIHNhbXBsZSBub25jZQ==");
    return exchange(port, std::move(request));
  };
  const auto busy = upgrade("/v1/lr/stream?slotName=" + slot);
  CHECK(busy.status == 409);
  CHECK(json_field(busy.body, "error").find("already has a consumer") != std::string::npos);
  const auto unknown = upgrade("/v1/lr/stream?slotName=delta_nosuchslot");
  CHECK(unknown.status == 404);
  CHECK(json_field(unknown.body, "error") == "unknown slot \"delta_nosuchslot\"");
  CHECK(upgrade("/v1/lr/stream?slotName=delta_x&mode=sideways").status == 400);

  ws.close(websocket::close_code::normal);
  get(port, "/v1/init");  // drops this test's slot
}
