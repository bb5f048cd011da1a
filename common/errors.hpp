#pragma once

#include <stdexcept>

namespace deltastream {

// Malformed bytes from a peer (PostgreSQL, ZeroMQ). Thrown by pure decoders; the caller
// logs it with its position and restarts the affected stream.
struct protocol_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A bad setting or a failed start-up step: fatal, the message names the setting.
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A libpq call failed; the message carries PQerrorMessage and the SQLSTATE when known.
struct pg_error : std::runtime_error {
  pg_error(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

}  // namespace deltastream
