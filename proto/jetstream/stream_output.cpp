#include "proto/jetstream/stream_output.hpp"

#include <algorithm>
#include <thread>

#include "common/backoff.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::jetstream {

namespace {

// Each ACK is a status update to PostgreSQL: a stream of small transactions is ACKed at
// most this often (and whenever it goes idle), like deltastream-tail.
constexpr auto ack_interval = std::chrono::milliseconds(100);

// A failure that a new attach may fix: JetStream refused or did not answer, NATS is away.
struct publish_broken : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace

stream_output::stream_output(zmq::context_t& context, nats_connection& nats, const jetstream_options& options,
                             std::string stream)
    : context_(context),
      nats_(nats),
      options_(options),
      stream_(std::move(stream)),
      mapper_(stream_, options.subject_prefix) {}

output_end stream_output::run(const std::atomic<bool>& stop) {
  auto log = module_logger("jetstream");
  backoff delay;
  while (!stop) {
    const auto started = std::chrono::steady_clock::now();
    try {
      follow(stop);
      return output_end::stopped;
    } catch (const proto::subscriber_error& error) {
      using cause = proto::subscriber_error::cause;
      // Not created yet, or dropped: a service waits for it (a deployment may start us first).
      if (error.why == cause::gone) log->warn("{}: {}; waiting for it", stream_, error.what());
      if (error.why == cause::other_consumer) {
        return log->error("{}: {}", stream_, error.what()), output_end::other_consumer;
      }
      // The reader away, PostgreSQL refusing for a while: a service goes on trying.
      if (error.why == cause::refused) log->error("{}: {}; trying again", stream_, error.what());
      if (error.why == cause::unreachable) log->warn("{}: {}; trying again", stream_, error.what());
    } catch (const publish_broken& error) {
      log->error("{}: {}; nothing after the last stored transaction was acknowledged, attaching again",
                 stream_, error.what());
    } catch (const nats_failure& error) {
      log->error("{}: {}; attaching again", stream_, error.what());
    } catch (const protocol_error& error) {
      log->error("{}: {}; attaching again", stream_, error.what());
    } catch (const proto::reader_unreachable& error) {
      log->warn("{}: {}; trying again", stream_, error.what());
    } catch (const std::exception& error) {
      log->error("{}: {}; attaching again", stream_, error.what());
    }
    // Whatever was in flight is forgotten: the next attach sends it all again.
    publisher_.reset();
    ledger_.reset();
    epoch_.reset();
    // A run that went well for a while starts the delays over.
    if (std::chrono::steady_clock::now() - started > std::chrono::seconds(30)) delay.reset();
    const auto wait = delay.next();
    for (auto waited = std::chrono::milliseconds(0); waited < wait && !stop; waited += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return output_end::stopped;
}

void stream_output::follow(const std::atomic<bool>& stop) {
  proto::subscriber_settings settings;
  settings.reader = options_.reader;
  settings.consumer = options_.consumer;
  // A service waits for a reader that is away; the run loop logs and attaches again.
  settings.give_up_after = std::chrono::seconds(30);
  settings.join_pieces = !mapper_.rows();  // a row stream's pieces are whole lines
  proto::subscriber source(context_, std::move(settings), stream_);
  module_logger("jetstream")->info("{}: following as {}", stream_, options_.consumer);
  while (!stop) {
    // While answers are awaited, wake every millisecond to ACK them; idle, every 100 ms.
    auto message = source.next(ledger_.transactions() == 0 ? std::chrono::milliseconds(100)
                                                           : std::chrono::milliseconds(1));
    if (message) {
      take(source, *message, stop);
      acknowledge(source, false);
    } else {
      acknowledge(source, true);
    }
  }
  // What is in flight gets its answers, so that the ACK covers it and a restart resends less.
  if (publisher_) publisher_->wait_for_answers(std::min(options_.ack_timeout, std::chrono::milliseconds(2'000)));
  acknowledge(source, true);
  source.leave();
}

void stream_output::take(proto::subscriber& source, proto::subscriber::message& message,
                         const std::atomic<bool>& stop) {
  if (epoch_ != message.epoch) start_epoch(message.epoch);
  batch_.clear();
  mapper_.map(message.bytes, message.position, message.last, batch_);
  for (const auto& outgoing : batch_) {
    if (!send(source, outgoing, stop)) return;  // stopping: the transaction stays open, unacknowledged
  }
  if (!message.last) return;
  ledger_.closed(batch_.empty() ? message.position : batch_.back().commit, {message.position, message.epoch});
}

// A new epoch resends everything after the reader's last ACK: what the old one had in
// flight is forgotten (its messages come again, with the same ids).
void stream_output::start_epoch(std::uint64_t epoch) {
  publisher_.reset();
  ledger_.reset();
  mapper_.reset();
  unsent_ack_.reset();
  publisher_ = std::make_unique<async_publisher>(nats_, ledger_, options_.stream.name, options_.max_in_flight,
                                                 options_.ack_timeout);
  epoch_ = epoch;
}

bool stream_output::send(proto::subscriber& source, const outgoing_message& message, const std::atomic<bool>& stop) {
  if (static_cast<std::int64_t>(message.payload.size()) > nats_.max_payload()) {
    // Never skipped (that would lose it): the stream stops here until NATS takes it.
    throw publish_broken("message " + message.id + " is " + std::to_string(message.payload.size()) +
                         " bytes, more than the NATS servers' max_payload (" + std::to_string(nats_.max_payload()) +
                         "): raise max_payload in their configuration");
  }
  while (publisher_->publish(message) == async_publisher::result::stalled) {
    if (stop) return false;
    if (auto failure = ledger_.failure()) throw publish_broken(*failure);
    acknowledge(source, false);
    source.keep_alive();
  }
  return true;
}

void stream_output::acknowledge(proto::subscriber& source, bool now) {
  if (auto failure = ledger_.failure()) throw publish_broken(*failure);
  if (auto stored = ledger_.take_stored()) unsent_ack_ = stored;
  const auto clock_now = std::chrono::steady_clock::now();
  if (!unsent_ack_ || (!now && clock_now - acked_at_ < ack_interval)) return;
  source.ack({std::string(), unsent_ack_->position, unsent_ack_->epoch, true});
  unsent_ack_.reset();
  acked_at_ = clock_now;
}

}  // namespace deltastream::jetstream
