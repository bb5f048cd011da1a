#pragma once

#include <functional>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>

#include "common/pg_connection.hpp"
#include "gateway/copy_json_decoder.hpp"
#include "gateway/streamed_response.hpp"

namespace deltastream::gateway {

// A full-table snapshot read as NDJSON pieces: the binary COPY that
// snapshot_store::open_stream started, read on the database threads one piece at a
// time and at most one piece ahead of the session, so that reading PostgreSQL overlaps
// writing the socket while memory stays bounded (a piece is ~256 KiB). No database
// thread waits for the client: a slow client leaves the COPY waiting in PostgreSQL.
class snapshot_stream : public body_source, public std::enable_shared_from_this<snapshot_stream> {
 public:
  snapshot_stream(pg_conn copying, boost::asio::thread_pool& database, boost::asio::io_context& io);
  void next(std::function<void(body_piece)> ready) override;

 private:
  void read_ahead();                // I/O thread
  body_piece read_piece();          // database thread, one at a time
  void on_piece(body_piece piece);  // I/O thread

  pg_conn connection_;  // in COPY OUT; closed at the end or on failure
  copy_json_decoder decoder_;
  copy_json_decoder::status decoded_ = copy_json_decoder::status::need_more;
  boost::asio::thread_pool& database_;
  boost::asio::io_context& io_;
  // I/O thread only.
  bool reading_ = false;   // a read_piece is under way
  bool finished_ = false;  // the last (or failed) piece has been read
  std::optional<body_piece> ahead_;
  std::function<void(body_piece)> waiting_;
};

}  // namespace deltastream::gateway
