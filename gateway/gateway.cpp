#include "gateway/gateway.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <random>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "gateway/listen_addresses.hpp"
#include "gateway/tls_context.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

namespace {

std::string random_instance() {
  std::random_device random;
  return fmt::format("gw-{:08x}{:08x}", random(), random());
}

}  // namespace

gateway::gateway(const gateway_options& options)
    : options_(options),
      tls_(options.server.tls_cert_file.empty()
               ? nullptr
               : load_tls_context(options.server.tls_cert_file, options.server.tls_key_file)),
      database_(static_cast<std::size_t>(options.server.database_threads)),
      hub_(options.server.max_queue_bytes),
      snapshots_(options.conninfo, options.server.snapshot_idle_timeout),
      link_(io_, zmq_, options.link,
            [this](const std::string& stream, const proto::frame_header& header,
                   std::shared_ptr<const std::string> payload) {
              hub_.on_frame(stream, header, payload);
            }),
      context_{options.server, io_, database_, link_, hub_, snapshots_, tls_.get(), {}, random_instance(), 0, refusal_log(), lag_history()},
      housekeeping_timer_(io_) {
  listen();
}

void gateway::listen() {
  std::string failures;
  const auto connections = std::make_shared<client_connections>(options_.server.max_connections_per_client);
  for (auto endpoint : listen_addresses(io_, options_.server)) {
    // Port 0 (any free one): every address gets the port the first one got.
    if (!listeners_.empty()) endpoint.port(listeners_.front()->local_endpoint().port());
    boost::beast::error_code error;
    if (auto opened = listener::open(context_, connections, endpoint, error)) {
      listeners_.push_back(std::move(opened));
      continue;
    }
    const auto where = describe_endpoint(endpoint, false);
    // An address this machine does not have (IPv6 turned off, say) is passed over; any
    // other failure (the port is taken) is the user's to fix.
    if (error == boost::system::errc::address_not_available ||
        error == net::error::address_family_not_supported) {
      module_logger("gateway")->warn("not listening on {}: {}", where, error.message());
      failures += (failures.empty() ? "" : "; ") + where + ": " + error.message();
      continue;
    }
    throw config_error("--server-host/--server-port: cannot listen on " + where + ": " + error.message());
  }
  if (listeners_.empty()) {
    throw config_error("--server-host/--server-port: cannot listen on any address of \"" +
                       options_.server.host + "\" (" + failures + ")");
  }
}

gateway::~gateway() {
  link_.stop();
  database_.join();
}

void gateway::run() {
  auto log = module_logger("gateway");
  std::string where;
  for (const auto& each : listeners_) {
    where += (where.empty() ? "" : ", ") + describe_endpoint(each->local_endpoint(), tls_ != nullptr);
  }
  log->info("listening on {} (WebSocket: the same with ws{}:// and /v1/lr/stream)", where, tls_ ? "s" : "");
  if (!options_.server.access.tokens) log->warn("no --token-file: anyone who can reach {} may use the API", where);
  net::signal_set signals(io_, SIGTERM, SIGINT);
  signals.async_wait([this](boost::system::error_code error, int) {
    if (!error) stop();
  });
  link_.start();
  for (auto& each : listeners_) each->run();
  schedule_housekeeping();
  io_.run();
  log->info("stopped");
}

void gateway::stop() {
  // Thread-safe: the work happens on the I/O thread, which owns the hub.
  net::post(io_, [this] {
    module_logger("gateway")->info("stopping: closing WebSockets with 1001");
    for (auto& each : listeners_) each->stop();
    housekeeping_timer_.cancel();
    hub_.end_all(close_code::going_away, "gateway shutting down");
    // Give the close frames a moment to leave, then end the loop.
    auto deadline = std::make_shared<net::steady_timer>(io_, std::chrono::milliseconds(500));
    deadline->async_wait([this, deadline](boost::system::error_code) { io_.stop(); });
  });
}

void gateway::schedule_housekeeping() {
  housekeeping_timer_.expires_after(std::chrono::seconds(1));
  housekeeping_timer_.async_wait([this](boost::system::error_code error) {
    if (error) return;
    hub_.check_liveness(std::chrono::steady_clock::now(), options_.server.reader_silence_limit);
    if (++housekeeping_rounds_ % 5 == 0) net::post(database_, [this] { snapshots_.expire_idle(); });
    if (housekeeping_rounds_ % lag_history::interval.count() == 1) sample_lag();
    schedule_housekeeping();
  });
}

void gateway::sample_lag() {
  proto::control_request list;
  list.op = proto::control_op::list;
  link_.call(list, [this](const proto::control_reply& reply) {
    if (reply.ok) context_.lag.record(reply.json, std::chrono::system_clock::now());
  });
}

}  // namespace deltastream::gateway
