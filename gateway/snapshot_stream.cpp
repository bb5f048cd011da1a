#include "gateway/snapshot_stream.hpp"

#include <boost/asio/post.hpp>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::gateway {

namespace {

namespace net = boost::asio;

// Large enough that the per-piece costs (two posts, a chunk header, a write) vanish
// against the rows; small enough that three of them (written, ahead, being read) stay
// under a MiB per response.
constexpr std::size_t piece_bytes = 256 << 10;

struct copy_buffer_deleter {
  void operator()(char* buffer) const { PQfreemem(buffer); }
};

}  // namespace

snapshot_stream::snapshot_stream(pg_conn copying, net::thread_pool& database, net::io_context& io)
    : connection_(std::move(copying)), database_(database), io_(io) {}

void snapshot_stream::next(std::function<void(body_piece)> ready) {
  if (ahead_) {
    auto piece = std::move(*ahead_);
    ahead_.reset();
    read_ahead();
    return ready(std::move(piece));
  }
  waiting_ = std::move(ready);
  read_ahead();
}

void snapshot_stream::read_ahead() {
  if (reading_ || finished_ || ahead_) return;
  reading_ = true;
  net::post(database_, [self = shared_from_this()] {
    auto piece = self->read_piece();
    net::post(self->io_, [self, piece = std::move(piece)]() mutable { self->on_piece(std::move(piece)); });
  });
}

void snapshot_stream::on_piece(body_piece piece) {
  reading_ = false;
  if (piece.end != body_piece::end::more) finished_ = true;
  if (!waiting_) {
    ahead_ = std::move(piece);
    return;
  }
  auto ready = std::exchange(waiting_, nullptr);
  read_ahead();
  ready(std::move(piece));
}

body_piece snapshot_stream::read_piece() {
  body_piece piece;
  piece.data.reserve(piece_bytes + (64 << 10));
  PGconn* conn = connection_.get();
  try {
    while (piece.data.size() < piece_bytes) {
      char* raw = nullptr;
      const int size = PQgetCopyData(conn, &raw, /*async=*/0);
      std::unique_ptr<char, copy_buffer_deleter> buffer(raw);
      if (size > 0) {
        decoded_ = decoder_.feed({buffer.get(), static_cast<std::size_t>(size)}, piece.data);
        continue;
      }
      if (size == -2) throw pg_error("COPY: " + pg_error_message(conn), "");
      // -1: the COPY ended; its outcome is the next result.
      pg_check(conn, PQgetResult(conn), PGRES_COMMAND_OK, "COPY");
      if (decoded_ != copy_json_decoder::status::done) {
        throw protocol_error("binary COPY ended before its trailer");
      }
      piece.end = body_piece::end::last;
      connection_.reset();
      return piece;
    }
  } catch (const std::exception& error) {
    // The 200 is already sent: the client learns from a body that stops short.
    module_logger("snapshot")->warn("snapshot stream failed: {}", error.what());
    piece.end = body_piece::end::failed;
    connection_.reset();
  }
  return piece;
}

}  // namespace deltastream::gateway
