#include "gateway/gateway.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <random>

#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "gateway/tls_context.hpp"

namespace deltastream::gateway {

namespace net = boost::asio;

namespace {

net::ip::tcp::endpoint resolve_listen_endpoint(net::io_context& io, const gateway_settings& settings) {
  net::ip::tcp::resolver resolver(io);
  boost::system::error_code error;
  const auto results = resolver.resolve(settings.host, std::to_string(settings.port), error);
  if (error || results.empty()) {
    throw config_error("--server-host: cannot resolve \"" + settings.host + "\": " + error.message());
  }
  auto endpoint = results.begin()->endpoint();
  const auto& access = settings.access;
  if (!access.tokens && !access.allow_unauthenticated && !endpoint.address().is_loopback()) {
    module_logger("gateway")->warn(
        "no --token-file: serving without authentication, so on loopback only instead of {} "
        "(give --token-file, or --allow-unauthenticated behind your own authentication)",
        endpoint.address().to_string());
    endpoint.address(endpoint.address().is_v6() ? net::ip::address(net::ip::address_v6::loopback())
                                                : net::ip::address(net::ip::address_v4::loopback()));
  }
  return endpoint;
}

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
      context_{options.server, io_, database_, link_, hub_, snapshots_, tls_.get(), {}, random_instance(), 0, refusal_log()},
      housekeeping_timer_(io_) {
  listener_ = std::make_shared<listener>(context_, resolve_listen_endpoint(io_, options.server));
}

gateway::~gateway() {
  link_.stop();
  database_.join();
}

void gateway::run() {
  auto log = module_logger("gateway");
  const auto where = listener_->local_endpoint();
  const char* secure = tls_ ? "s" : "";
  log->info("listening on http{}://{}:{} (WebSocket ws{}://{}:{}/v1/lr/stream)", secure,
            where.address().to_string(), where.port(), secure, where.address().to_string(), where.port());
  if (!options_.server.access.tokens) {
    log->warn("no --token-file: anyone who can reach {} may use the API", where.address().to_string());
  }
  net::signal_set signals(io_, SIGTERM, SIGINT);
  signals.async_wait([this](boost::system::error_code error, int) {
    if (!error) stop();
  });
  link_.start();
  listener_->run();
  schedule_housekeeping();
  io_.run();
  log->info("stopped");
}

void gateway::stop() {
  // Thread-safe: the work happens on the I/O thread, which owns the hub.
  net::post(io_, [this] {
    module_logger("gateway")->info("stopping: closing WebSockets with 1001");
    listener_->stop();
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
    schedule_housekeeping();
  });
}

}  // namespace deltastream::gateway
