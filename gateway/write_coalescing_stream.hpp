#pragma once

#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffer_traits.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

namespace deltastream::gateway {

// A stream layer under Beast's websocket::stream that turns many small writes into one
// send. Beast writes one WebSocket message at a time and waits for each, so a client with
// fifty changes queued cost fifty sendmsg calls and fifty wake-ups of the client. Here a
// write the session marks with hold_next_write() (it has more queued behind it) is copied
// into a buffer and completes at once; the next unmarked write sends everything in one go.
//
// Every byte still passes through Beast in order, so its pongs and close frames are never
// interleaved with ours: they are unmarked writes, and flush what is held. A write that
// finds the buffer full waits for the send in flight (back pressure reaches the session's
// queue as before). A large write that finds nothing held goes straight through, uncopied.
// Teardown sends what is held first. One I/O thread: no locking.
template <class NextLayer>
class write_coalescing_stream {
 public:
  using next_layer_type = NextLayer;
  using executor_type = typename NextLayer::executor_type;

  // Held bytes are sent once they reach this; a write this big is not copied.
  static constexpr std::size_t capacity = 64 << 10;

  template <class... Args>
  explicit write_coalescing_stream(Args&&... args) : next_(std::forward<Args>(args)...) {}
  // A send in flight refers to this object: it must not move.
  write_coalescing_stream(const write_coalescing_stream&) = delete;
  write_coalescing_stream& operator=(const write_coalescing_stream&) = delete;
  ~write_coalescing_stream() { *alive_ = false; }

  // What owns this stream (the session): each send holds it until the send completes.
  // Writes complete before their bytes leave, so no handler of the session's does; and
  // the send's steps (a partial write's next one, TLS's state) use the layers below.
  void keep_alive_with(std::weak_ptr<const void> owner) { owner_ = std::move(owner); }

  next_layer_type& next_layer() noexcept { return next_; }
  const next_layer_type& next_layer() const noexcept { return next_; }
  executor_type get_executor() noexcept { return next_.get_executor(); }

  // The next write is held back for the one after it, unless the buffer fills.
  void hold_next_write() noexcept { hold_next_ = true; }
  std::size_t held_bytes() const noexcept { return pending_.size(); }

  template <class MutableBufferSequence, class ReadHandler>
  auto async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    return next_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template <class ConstBufferSequence, class WriteHandler>
  auto async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    return boost::asio::async_initiate<WriteHandler, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBufferSequence& buffers) {
          start_write(buffers, std::move(handler));
        },
        handler, buffers);
  }

  // Beast's websocket::stream ends the connection through this (found by ADL).
  template <class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, write_coalescing_stream& stream,
                             TeardownHandler&& handler) {
    stream.start_teardown(role, std::forward<TeardownHandler>(handler));
  }

 private:
  // A move-only call kept for later: a write waiting for room, or a teardown waiting for
  // the held bytes to leave.
  class deferred {
   public:
    template <class F>
    void set(F f) {
      call_ = std::make_unique<holder<F>>(std::move(f));
    }
    explicit operator bool() const noexcept { return call_ != nullptr; }
    void run() {
      auto call = std::move(call_);
      call->run();
    }

   private:
    struct base {
      virtual ~base() = default;
      virtual void run() = 0;
    };
    template <class F>
    struct holder : base {
      explicit holder(F f) : f(std::move(f)) {}
      void run() override { f(); }
      F f;
    };
    std::unique_ptr<base> call_;
  };

  template <class Handler>
  void complete(Handler handler, boost::beast::error_code error, std::size_t bytes) {
    // Never inline: Beast's composed operations expect completions as if posted.
    boost::asio::post(get_executor(), boost::beast::bind_front_handler(std::move(handler), error, bytes));
  }

  template <class Buffers, class Handler>
  void start_write(const Buffers& buffers, Handler handler) {
    const bool hold = std::exchange(hold_next_, false);
    if (error_) return complete(std::move(handler), error_, 0);
    const std::size_t size = boost::beast::buffer_bytes(buffers);
    if (size == 0) return complete(std::move(handler), {}, 0);
    if (pending_.size() == 0 && !sending_ && size >= capacity) {
      return next_.async_write_some(buffers, std::move(handler));
    }
    if (pending_.size() >= capacity) {  // full: wait for the send in flight
      waiting_write_.set([this, buffers, hold, handler = std::move(handler)]() mutable {
        hold_next_ = hold;
        start_write(buffers, std::move(handler));
      });
      return;
    }
    const std::size_t taken = std::min(size, capacity - pending_.size());
    pending_.commit(boost::asio::buffer_copy(pending_.prepare(taken), buffers));
    if (!hold || pending_.size() >= capacity) {
      send_requested_ = true;
      send_pending();
    }
    complete(std::move(handler), {}, taken);
  }

  void send_pending() {
    if (sending_ || error_ || !send_requested_ || pending_.size() == 0) return;
    sending_ = true;
    send_requested_ = false;
    std::swap(pending_, in_flight_);
    // Without an owner (the tests own the stream outright), `alive` guards the completion.
    boost::asio::async_write(next_, in_flight_.data(),
                             [this, alive = alive_, owner = owner_.lock()](boost::beast::error_code error,
                                                                           std::size_t) {
                               if (*alive) on_sent(error);
                             });
  }

  void on_sent(boost::beast::error_code error) {
    sending_ = false;
    in_flight_.clear();
    if (error && !error_) error_ = error;
    // A connection gone quiet gives back what a burst made the buffer grow to.
    if (pending_.size() == 0 && in_flight_.capacity() > capacity / 4) in_flight_.shrink_to_fit();
    send_pending();  // what unheld writes added meanwhile
    if (waiting_write_) waiting_write_.run();  // room now, or the error to fail with
    run_teardown_if_waiting();
  }

  template <class TeardownHandler>
  void start_teardown(boost::beast::role_type role, TeardownHandler handler) {
    waiting_teardown_.set([this, role, handler = std::move(handler)]() mutable {
      using boost::beast::websocket::async_teardown;
      async_teardown(role, next_, std::move(handler));
    });
    send_requested_ = true;
    send_pending();
    run_teardown_if_waiting();
  }

  void run_teardown_if_waiting() {
    if (!waiting_teardown_ || sending_ || (pending_.size() > 0 && !error_)) return;
    waiting_teardown_.run();
  }

  // Declared before next_, so destroyed after the socket stops using them.
  boost::beast::flat_buffer pending_;    // held, or waiting for the send in flight
  boost::beast::flat_buffer in_flight_;  // being sent
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::weak_ptr<const void> owner_;
  NextLayer next_;
  bool sending_ = false;
  bool hold_next_ = false;
  bool send_requested_ = false;  // pending_ holds bytes of an unheld write (or a teardown's)
  boost::beast::error_code error_;  // a failed send fails every later write
  deferred waiting_write_;
  deferred waiting_teardown_;
};

}  // namespace deltastream::gateway
