#include "reader/reader_service.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
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
                [this](std::uint64_t ticket, std::string reply) {
                  control_.reply(ticket, reply);
                  replied_later_ = true;
                }) {}

namespace {

// zmq_pollitem_t revents from poll()'s, as zmq_poll computes them.
short zmq_revents(short revents) {
  short out = 0;
  if (revents & POLLIN) out |= ZMQ_POLLIN;
  if (revents & POLLOUT) out |= ZMQ_POLLOUT;
  if (revents & POLLPRI) out |= ZMQ_POLLPRI;
  if (revents & ~(POLLIN | POLLOUT | POLLPRI)) out |= ZMQ_POLLERR;
  return out;
}

}  // namespace

void reader_service::run(const std::atomic<bool>& stop) {
  auto log = module_logger("reader");
  log->info("control on {}, publishing on {}", control_.endpoint(), publisher_.endpoint());
  for (const auto& endpoint : {control_.endpoint(), publisher_.endpoint()}) {
    if (options_.curve.enabled() || is_local_endpoint(endpoint)) continue;
    log->warn("{} is reachable from other machines without CURVE: the ZeroMQ hop is "
              "unauthenticated and unencrypted (see --curve-secret-key)", endpoint);
  }
  // One poll() over the ZeroMQ sockets' ZMQ_FDs and the libpq sockets. zmq_poll would
  // also do: but it polls twice per wake-up and asks every ZeroMQ socket for ZMQ_EVENTS
  // each time (a getpid and a poll apiece), which made the reader's wake-ups for each
  // change of a small transaction cost eight system calls instead of one. A ZMQ_FD only
  // says "look at ZMQ_EVENTS": so look when it does, or when this loop used the socket
  // (a send may take in the notice meant for it). The XPUB is the exception: a send
  // either processes its commands itself or (within a millisecond of the last time)
  // leaves them, and its ZMQ_FD readable; all it can leave unseen is subscription
  // notices, which harm nothing while they wait. So it is looked at when its ZMQ_FD
  // fires, when a poll that waited a millisecond or more timed out (idle, not a stream
  // gathering the rest of a transaction), and after every publisher_check_interval
  // iterations that sent: that spares every live transaction a getpid and a poll.
  const int control_fd = control_.socket().get(zmq::sockopt::fd);
  const int publisher_fd = publisher_.socket().get(zmq::sockopt::fd);
  bool check_control = true;
  bool check_publisher = true;
  bool subscriptions_changed = false;  // a stream may wait for one: step at once
  int sends_unchecked = 0;
  std::vector<zmq_pollitem_t> items;
  std::vector<pollfd> fds;
  constexpr std::chrono::nanoseconds idle_timeout = std::chrono::milliseconds(1);
  while (!stop.load()) {
    // Never ZMQ_POLLOUT on the XPUB: libzmq reports a PUB-like socket always writable
    // (dist_t::has_out), also while ZMQ_XPUB_NODROP refuses every send.
    if (check_publisher && (publisher_.socket().get(zmq::sockopt::events) & ZMQ_POLLIN)) {
      subscriptions_changed = publisher_.drain_subscriptions();
    }
    // Until nothing is left: its last, empty receive also takes in what came meanwhile.
    if (check_control && (control_.socket().get(zmq::sockopt::events) & ZMQ_POLLIN)) {
      serve_control_requests();
    }
    items.clear();
    registry_.add_poll_items(items);
    fds.clear();
    fds.push_back({control_fd, POLLIN, 0});
    fds.push_back({publisher_fd, POLLIN, 0});
    for (const auto& item : items) {
      const short events = static_cast<short>(((item.events & ZMQ_POLLIN) ? POLLIN : 0) |
                                              ((item.events & ZMQ_POLLOUT) ? POLLOUT : 0));
      fds.push_back({item.fd, events, 0});  // fd -1 (a disconnected stream) is skipped
    }

    // ppoll, not poll: a gathering stream's deadline is under a millisecond away, and
    // poll's milliseconds would round it to 0 and spin until then.
    const auto now = clock::now();
    std::chrono::nanoseconds timeout =
        std::max(std::chrono::nanoseconds{0}, registry_.next_deadline(now) - now);
    if (subscriptions_changed) timeout = std::chrono::nanoseconds{0};
    subscriptions_changed = false;
    if (registry_.has_pending_output()) {
      // A message the subscribers refused is offered again after a short pause, or
      // sooner if another deadline is due (a gathering stream's). A blocked stream's own
      // deadline is its status update, not the heartbeat it skips, which would stay in
      // the past and spin this loop. The queue that refused the message holds
      // --high-water-mark messages, far more than a pause's worth, so the pause costs
      // no throughput.
      timeout = std::min<std::chrono::nanoseconds>(timeout, publish_retry_interval);
    }
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    const timespec wait{static_cast<time_t>(seconds.count()),
                        static_cast<long>((timeout - seconds).count())};
    const int ready = ::ppoll(fds.data(), fds.size(), &wait, nullptr);
    if (ready < 0) {
      if (errno == EINTR) continue;  // a signal: check `stop`
      throw std::runtime_error(std::string("ppoll: ") + std::strerror(errno));
    }
    check_control = fds[0].revents != 0;
    check_publisher = fds[1].revents != 0 || (ready == 0 && timeout >= idle_timeout);
    for (std::size_t i = 0; i < items.size(); ++i) items[i].revents = zmq_revents(fds[i + 2].revents);
    replied_later_ = false;
    registry_.step(clock::now(), items.data());
    if (replied_later_) check_control = true;
    if (publisher_.take_used() && ++sends_unchecked >= publisher_check_interval) check_publisher = true;
    if (check_publisher) sends_unchecked = 0;
  }
  log->info("stopping: sending the last status updates");
  registry_.stop_all("reader shutting down");
}

void reader_service::serve_control_requests() {
  while (auto request = control_.receive()) {
    const auto decoded = proto::decode_control_request(request->body);
    if (!decoded.request) {
      module_logger("control")->warn("refused a control request: {}", decoded.error);
      control_.reply(request->ticket, proto::error_reply(decoded.id, proto::refusal_code::bad_request, decoded.error));
      continue;
    }
    if (auto reply = registry_.handle(*decoded.request, request->ticket)) {
      control_.reply(request->ticket, *reply);
    }
  }
}

}  // namespace deltastream::reader
