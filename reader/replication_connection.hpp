#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/lsn.hpp"
#include "common/pg_connection.hpp"
#include "reader/replication_source.hpp"

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

// One walsender connection (replication=database), never blocking the reader's loop:
// it connects with PQconnectStart/PQconnectPoll and sends its one command with
// PQsendQuery. Creates a slot with an exported snapshot, or runs START_REPLICATION and
// then reads CopyData. Errors throw pg_error; expected outcomes are values.
class replication_connection final : public replication_source {
 public:
  // Starts connecting. The command waits until the connection is up.
  explicit replication_connection(const std::string& conninfo);

  // Queues CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT.
  void create_slot(const std::string& slot, const std::string& plugin);
  struct created_slot {
    std::string slot;
    lsn consistent_point;
    std::string snapshot;
  };
  // Advances the connection and the command: the slot once the server answered, or
  // what to wait for. The connection then stays idle, which keeps the snapshot alive.
  std::variant<created_slot, wait_for> poll_create_slot();

  // Queues START_REPLICATION SLOT "slot" LOGICAL start (options...).
  void start_replication(const std::string& slot, lsn start, const replication_options& options);
  std::optional<wait_for> poll_start() override;

  read_status read(std::span<const std::uint8_t>& message) override;
  void consume_input() override;
  void send_status(const standby_status& status) override;
  bool flush() override;
  int socket() const override;

  std::string last_error() const { return pg_error_message(conn_.get()); }

  // The factory streams use: a libpq connection with this conninfo.
  static replication_source_factory factory(std::string conninfo);

 private:
  // Drives connecting, then sends the queued command: what to wait for, or nullopt
  // once the command's result can be read.
  std::optional<wait_for> advance();

  pg_conn conn_;
  // PQconnectPoll's first call waits for the socket to be writable (the connect(2) in
  // progress has finished): before that it would take a pending connect for done.
  bool first_poll_ = true;
  bool connected_ = false;
  std::string command_;  // sent once connected
  bool sent_ = false;
  copy_data buffer_;  // the last message read
};

}  // namespace deltastream::reader
