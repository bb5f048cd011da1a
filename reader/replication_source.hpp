#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/lsn.hpp"
#include "reader/replication_message.hpp"

namespace deltastream::reader {

// What a stream needs of its replication connection: the seam between the stream's
// bookkeeping and libpq (replication_connection), so that a test can feed it recorded
// bytes. Never blocks; errors throw pg_error.
class replication_source {
 public:
  virtual ~replication_source() = default;

  // What the socket must become before poll_start() can make progress.
  enum class wait_for { readable, writable };
  // Advances connecting and START_REPLICATION: nullopt once the server streams. After
  // the first call, call again only once the socket is as the last call asked.
  virtual std::optional<wait_for> poll_start() = 0;

  enum class read_status { message, would_block, ended };
  // The next CopyData message, valid until the next read. `ended`: the server finished
  // the copy without an error.
  virtual read_status read(std::span<const std::uint8_t>& message) = 0;
  // Takes in what the socket has. Call when poll says readable.
  virtual void consume_input() = 0;

  virtual void send_status(const standby_status& status) = 0;
  // True while bytes wait to be sent (poll for writability then).
  virtual bool flush() = 0;

  virtual int socket() const = 0;
};

using replication_options = std::vector<std::pair<std::string, std::string>>;

// Opens a source that starts streaming `slot` from `start` (not yet connected).
using replication_source_factory = std::function<std::unique_ptr<replication_source>(
    const std::string& slot, lsn start, const replication_options& options)>;

}  // namespace deltastream::reader
