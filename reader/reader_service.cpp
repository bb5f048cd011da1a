#include "reader/reader_service.hpp"

#include <cerrno>
#include <cstring>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/control_message.hpp"

namespace deltastream::reader {

reader_service::reader_service(zmq::context_t& context, const reader_options& options)
    : options_(options),
      zap_(options.curve.enabled()
               ? std::make_unique<zap_authenticator>(context, options.curve.authorized_keys)
               : nullptr),
      publisher_(context, options.publish_endpoint, options.high_water_mark, options.max_queued_bytes,
                 options.curve.keypair),
      control_(context, options.control_endpoint, options.curve.keypair),
      registry_(options.registry, publisher_,
                [this](std::uint64_t ticket, std::string reply) { control_.reply(ticket, reply); }) {}

void reader_service::run(const std::atomic<bool>& stop) {
  auto log = module_logger("reader");
  log->info("control on {}, publishing on {}", control_.endpoint(), publisher_.endpoint());
  for (const auto& endpoint : {control_.endpoint(), publisher_.endpoint()}) {
    if (options_.curve.enabled() || is_local_endpoint(endpoint)) continue;
    log->warn("{} is reachable from other machines without CURVE: the ZeroMQ hop is "
              "unauthenticated and unencrypted (see --curve-secret-key)", endpoint);
  }
  std::vector<zmq_pollitem_t> items;
  while (!stop.load()) {
    items.clear();
    items.push_back({control_.socket().handle(), 0, ZMQ_POLLIN, 0});
    // Never ZMQ_POLLOUT on the XPUB: libzmq reports a PUB-like socket always writable
    // (dist_t::has_out), also while ZMQ_XPUB_NODROP refuses every send.
    items.push_back({publisher_.socket().handle(), 0, ZMQ_POLLIN, 0});
    registry_.add_poll_items(items);

    long timeout = 0;
    if (registry_.has_pending_output()) {
      // A message the subscribers refused is offered again after a short pause. Not
      // sooner: a blocked stream skips its heartbeat, so its deadline stays in the past,
      // and waiting for it spun this loop at 100% of a core while the subscribers were
      // behind. The queue that refused it holds --high-water-mark messages, far more than
      // a pause's worth, so the pause costs no throughput.
      timeout = publish_retry_interval.count();
    } else {
      const auto now = clock::now();
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          registry_.next_deadline(now) - now);
      timeout = std::max<long>(0, static_cast<long>(wait.count()));
    }
    if (zmq_poll(items.data(), static_cast<int>(items.size()), timeout) < 0) {
      if (errno == EINTR) continue;  // a signal: check `stop`
      throw std::runtime_error(std::string("zmq_poll: ") + zmq_strerror(errno));
    }
    if (items[1].revents & ZMQ_POLLIN) publisher_.drain_subscriptions();
    registry_.step(clock::now(), items.data() + 2);
    if (items[0].revents & ZMQ_POLLIN) serve_control_requests();
  }
  log->info("stopping: sending the last status updates");
  registry_.stop_all("reader shutting down");
}

void reader_service::serve_control_requests() {
  while (auto request = control_.receive()) {
    const auto decoded = proto::decode_control_request(request->body);
    if (!decoded.request) {
      module_logger("control")->warn("refused a control request: {}", decoded.error);
      control_.reply(request->ticket, proto::error_reply(decoded.id, decoded.error));
      continue;
    }
    if (auto reply = registry_.handle(*decoded.request, request->ticket)) {
      control_.reply(request->ticket, *reply);
    }
  }
}

}  // namespace deltastream::reader
