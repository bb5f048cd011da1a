#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/lsn.hpp"
#include "common/pg_connection.hpp"
#include "reader/replication_message.hpp"

namespace deltastream::reader {

// One CopyData message where libpq put it: parsed in place, not copied again.
class copy_data {
 public:
  std::span<const std::uint8_t> bytes() const {
    return {reinterpret_cast<const std::uint8_t*>(data_.get()), length_};
  }
  void reset(char* data, std::size_t length) {
    data_.reset(data);
    length_ = length;
  }

 private:
  struct libpq_free {
    void operator()(char* data) const;
  };
  std::unique_ptr<char, libpq_free> data_;
  std::size_t length_ = 0;
};

// One walsender connection (replication=database). Creates slots with an exported
// snapshot, or runs START_REPLICATION and then reads CopyData without blocking.
// Errors throw pg_error; expected outcomes (would block, end of copy) are values.
class replication_connection {
 public:
  explicit replication_connection(const std::string& conninfo);

  // Sends CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT without waiting: it waits for
  // running transactions to finish, which must not stall the reader's loop.
  void send_create_slot(const std::string& slot, const std::string& plugin);
  // After the socket turned readable: nullopt while the server is still working.
  struct created_slot {
    std::string slot;
    lsn consistent_point;
    std::string snapshot;
  };
  std::optional<created_slot> poll_create_slot();

  // START_REPLICATION SLOT "slot" LOGICAL start (options...). Blocks until the server
  // answers (it answers at once), then switches to non-blocking reads.
  void start_replication(const std::string& slot, lsn start,
                         const std::vector<std::pair<std::string, std::string>>& options);

  enum class read_status { message, would_block, ended };
  // Reads one CopyData message into `out` (replacing it). `ended` when the server
  // finished the copy (e.g. slot dropped; error in last_error()).
  read_status read(copy_data& out);
  // Reads what the socket has into libpq's buffer. Call when poll says readable.
  void consume_input();

  void send_status(const standby_status& status);
  // True while libpq still holds bytes to send (poll for writability then).
  bool flush();

  int socket() const;
  std::string last_error() const { return pg_error_message(conn_.get()); }

 private:
  pg_conn conn_;
};

}  // namespace deltastream::reader
