#include "proto/tail.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>

#include <simdjson.h>

#include "common/logging.hpp"
#include "proto/subscriber.hpp"

namespace deltastream::proto {

namespace {

// Lines for stdout, written with write(2) so that a closed pipe is an error we see
// (SIGPIPE is ignored) rather than a death that could come after an ACK.
class line_output {
 public:
  void add(std::string_view message) {
    const auto start = buffer_.size();
    buffer_.append(message);
    // One line per message: a newline between JSON tokens is whitespace, and JSON strings
    // hold none raw, so a pretty-printed message becomes one line meaning the same.
    std::replace(buffer_.begin() + static_cast<std::ptrdiff_t>(start), buffer_.end(), '\n', ' ');
    buffer_ += '\n';
  }
  bool empty() const { return buffer_.empty(); }
  std::size_t size() const { return buffer_.size(); }
  // False when stdout is closed, or a stop interrupted the write: what was not written
  // whole is then not acknowledged.
  bool flush(const std::atomic<bool>& stop) {
    std::size_t written = 0;
    while (written < buffer_.size()) {
      const auto result = write(STDOUT_FILENO, buffer_.data() + written, buffer_.size() - written);
      if (result < 0 && errno == EINTR && !stop) continue;
      if (result < 0) {
        if (errno == EINTR) return false;
        if (errno != EPIPE) module_logger("tail")->error("writing to stdout: {}", std::strerror(errno));
        return false;
      }
      written += static_cast<std::size_t>(result);
    }
    buffer_.clear();
    return true;
  }

 private:
  std::string buffer_;
};

// Flushed at least this often while messages keep coming, and whenever none is waiting.
constexpr std::size_t flush_bytes = std::size_t{256} << 10;
// What was written is acknowledged at most this often (and before exit): each ACK is a
// status update to PostgreSQL, which a stream of small transactions would pay per message.
constexpr auto ack_interval = std::chrono::milliseconds(100);

tail_exit exit_for(refusal_code code) {
  return code == refusal_code::no_such_stream ? tail_exit::gone : tail_exit::refused;
}

tail_exit follow(const tail_options& options, zmq::context_t& context, std::string stream,
                 const std::atomic<bool>& stop) {
  subscriber_settings settings;
  settings.reader = options.reader;
  if (!options.observe) settings.consumer = options.consumer;
  settings.takeover = options.takeover;
  settings.give_up_after = options.give_up_after;
  subscriber source(context, std::move(settings), std::move(stream));
  line_output out;
  std::optional<subscriber::message> last;     // the last message in `out`
  std::optional<subscriber::message> written;  // the last one written, not yet acknowledged
  auto acked_at = std::chrono::steady_clock::now();
  std::uint64_t messages = 0;
  bool closed = false;
  auto acknowledge = [&](bool now) {
    if (!written || (!now && std::chrono::steady_clock::now() - acked_at < ack_interval)) return;
    source.ack(*written);
    written.reset();
    acked_at = std::chrono::steady_clock::now();
  };
  auto flush = [&] {
    if (!out.empty()) {
      if (!out.flush(stop)) {
        closed = !stop;  // what was not written is not acknowledged: it comes again
        return;
      }
      if (options.ack && last) written = std::move(last);
      last.reset();
    }
    acknowledge(false);
  };
  while (!stop && !closed && (!options.count || messages < *options.count)) {
    auto message = source.next(out.empty() ? std::chrono::milliseconds(200) : std::chrono::milliseconds(0));
    if (message) {
      out.add(message->bytes);
      last = std::move(message);
      ++messages;
      if (out.size() < flush_bytes && (!options.count || messages < *options.count)) continue;
    }
    flush();
  }
  if (!stop) flush();  // after a stop, what is buffered is left unacknowledged
  acknowledge(true);  // what was written, before leaving
  source.leave();
  if (closed) module_logger("tail")->info("stdout closed after {} message(s)", messages);
  return tail_exit::done;
}

void print_list(const control_reply& reply) {
  simdjson::dom::parser parser;
  simdjson::dom::array streams;
  if (parser.parse(reply.json)["streams"].get_array().get(streams)) {
    throw std::runtime_error("the reader's list reply has no streams");
  }
  if (!isatty(STDOUT_FILENO)) {
    std::cout << simdjson::to_string(streams) << '\n';
    return;
  }
  std::printf("%-40s %-9s %16s  %s\n", "STREAM", "ATTACHED", "LAG_BYTES", "CONFIRMED_FLUSH_LSN");
  for (auto entry : streams) {
    const std::string_view name = entry["stream"].get_string().value_unsafe();
    const bool attached = entry["attached"].get_bool().value_unsafe();
    const auto lag = entry["lag_bytes"].get_int64();
    const std::string_view confirmed = entry["confirmed_flush_lsn"].get_string().value_unsafe();
    std::printf("%-40.*s %-9s %16s  %.*s\n", static_cast<int>(name.size()), name.data(), attached ? "yes" : "no",
                lag.error() ? "-" : std::to_string(lag.value_unsafe()).c_str(), static_cast<int>(confirmed.size()),
                confirmed.data());
  }
}

}  // namespace

tail_exit run_tail(const tail_options& options, const std::atomic<bool>& stop) {
  auto log = module_logger("tail");
  zmq::context_t context;
  try {
    control_client control(context, options.reader);
    control_request request;
    request.stream = options.stream;
    switch (options.what) {
      case tail_options::action::list: {
        request.op = control_op::list;
        const auto reply = control.call(request);
        if (!reply.ok) return log->error("list: {}", reply.error), tail_exit::refused;
        print_list(reply);
        return tail_exit::done;
      }
      case tail_options::action::drop: {
        request.op = control_op::drop;
        const auto reply = control.call(request);
        if (!reply.ok) return log->error("drop: {}", reply.error), exit_for(reply.code);
        log->info("dropped {}", options.stream);
        return tail_exit::done;
      }
      case tail_options::action::follow:
        break;
    }
    std::string stream = options.stream;
    if (options.create) {
      request.op = control_op::create;
      const auto reply = control.call(request);
      if (!reply.ok) return log->error("create: {}", reply.error), tail_exit::refused;
      stream = reply.stream;
      // Not a log line: what the user asked for, at any --log-level.
      std::cerr << "created stream " << stream << ", snapshot " << reply.snapshot << '\n';
    }
    return follow(options, context, std::move(stream), stop);
  } catch (const reader_unreachable& error) {
    log->error("{}", error.what());
    return tail_exit::unreachable;
  } catch (const subscriber_error& error) {
    log->error("{}", error.what());
    switch (error.why) {
      case subscriber_error::cause::unreachable: return tail_exit::unreachable;
      case subscriber_error::cause::gone: return tail_exit::gone;
      case subscriber_error::cause::other_consumer: return tail_exit::other_consumer;
      case subscriber_error::cause::refused: return tail_exit::refused;
    }
  }
  return tail_exit::refused;
}

}  // namespace deltastream::proto
