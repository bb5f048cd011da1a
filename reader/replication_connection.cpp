#include "reader/replication_connection.hpp"

#include "common/errors.hpp"

namespace deltastream::reader {

replication_connection::replication_connection(const std::string& conninfo)
    : conn_(pg_connect_start(conninfo, connection_kind::replication)) {}

replication_source_factory replication_connection::factory(std::string conninfo) {
  return [conninfo = std::move(conninfo)](const std::string& slot, lsn start,
                                          const replication_options& options) {
    auto connection = std::make_unique<replication_connection>(conninfo);
    connection->start_replication(slot, start, options);
    return std::unique_ptr<replication_source>(std::move(connection));
  };
}

void replication_connection::create_slot(const std::string& slot, const std::string& plugin) {
  // Replication commands take no parameters: the slot name is validated by
  // stream_name and still quoted; EXPORT_SNAPSHOT is the pre-15 spelling that 10..17 accept.
  command_ = "CREATE_REPLICATION_SLOT " + pg_quote_identifier(conn_.get(), slot) + " LOGICAL " +
             pg_quote_identifier(conn_.get(), plugin) + " EXPORT_SNAPSHOT";
}

void replication_connection::start_replication(const std::string& slot, lsn start,
                                               const replication_options& options) {
  command_ = "START_REPLICATION SLOT " + pg_quote_identifier(conn_.get(), slot) + " LOGICAL " +
             start.to_string();
  if (options.empty()) return;
  command_ += " (";
  for (std::size_t i = 0; i < options.size(); ++i) {
    if (i) command_ += ", ";
    char* value = PQescapeLiteral(conn_.get(), options[i].second.data(), options[i].second.size());
    if (!value) throw pg_error("cannot quote option: " + last_error(), "");
    command_ += pg_quote_identifier(conn_.get(), options[i].first) + " " + value;
    PQfreemem(value);
  }
  command_ += ")";
}

std::optional<replication_source::wait_for> replication_connection::advance() {
  if (first_poll_) {
    first_poll_ = false;
    return wait_for::writable;
  }
  if (!connected_) {
    switch (PQconnectPoll(conn_.get())) {
      case PGRES_POLLING_READING: return wait_for::readable;
      case PGRES_POLLING_WRITING: return wait_for::writable;
      case PGRES_POLLING_FAILED:
        throw pg_error("cannot connect to PostgreSQL: " + last_error(), "08006");
      default: break;  // PGRES_POLLING_OK
    }
    connected_ = true;
    if (PQsetnonblocking(conn_.get(), 1) != 0) {
      throw pg_error("cannot make the replication connection non-blocking: " + last_error(), "");
    }
  }
  if (!sent_) {
    if (!PQsendQuery(conn_.get(), command_.c_str())) {
      throw pg_error("cannot send a replication command: " + last_error(), "08006");
    }
    sent_ = true;
  }
  if (flush()) return wait_for::writable;
  consume_input();
  if (PQisBusy(conn_.get())) return wait_for::readable;
  return std::nullopt;
}

std::variant<replication_connection::created_slot, replication_source::wait_for>
replication_connection::poll_create_slot() {
  if (const auto wait = advance()) return *wait;
  auto result = pg_check(conn_.get(), PQgetResult(conn_.get()), PGRES_TUPLES_OK,
                         "CREATE_REPLICATION_SLOT");
  // Drain to the end of the command so that the connection is idle again: an idle
  // walsender keeps the exported snapshot alive.
  while (pg_result rest{PQgetResult(conn_.get())}) {
  }
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) < 3) {
    throw protocol_error("CREATE_REPLICATION_SLOT returned an unexpected result shape");
  }
  // Columns: slot_name, consistent_point, snapshot_name, output_plugin.
  const auto point = lsn::parse(PQgetvalue(result.get(), 0, 1));
  if (!point) throw protocol_error("CREATE_REPLICATION_SLOT returned a bad consistent_point");
  return created_slot{PQgetvalue(result.get(), 0, 0), *point, PQgetvalue(result.get(), 0, 2)};
}

std::optional<replication_source::wait_for> replication_connection::poll_start() {
  if (const auto wait = advance()) return wait;
  pg_check(conn_.get(), PQgetResult(conn_.get()), PGRES_COPY_BOTH, "START_REPLICATION");
  return std::nullopt;
}

void replication_connection::consume_input() {
  if (!PQconsumeInput(conn_.get())) {
    throw pg_error("replication connection lost: " + last_error(), "08006");
  }
}

void copy_data::libpq_free::operator()(char* data) const { PQfreemem(data); }

replication_source::read_status replication_connection::read(std::span<const std::uint8_t>& message) {
  char* buffer = nullptr;
  const int length = PQgetCopyData(conn_.get(), &buffer, /*async=*/1);
  if (length > 0) {
    buffer_.reset(buffer, static_cast<std::size_t>(length));
    message = buffer_.bytes();
    return read_status::message;
  }
  if (length == 0) return read_status::would_block;
  if (length == -1) {
    // The server ended the copy; its final result says why (usually an error).
    pg_result result{PQgetResult(conn_.get())};
    if (result && PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      throw pg_error("replication stream ended: " + std::string(PQresultErrorMessage(result.get())),
                     state ? state : "");
    }
    return read_status::ended;
  }
  throw pg_error("replication read failed: " + last_error(), "08006");
}

void replication_connection::send_status(const standby_status& status) {
  const auto bytes = encode_standby_status(status);
  if (PQputCopyData(conn_.get(), reinterpret_cast<const char*>(bytes.data()),
                    static_cast<int>(bytes.size())) != 1) {
    throw pg_error("cannot send standby status: " + last_error(), "08006");
  }
  flush();
}

bool replication_connection::flush() {
  const int pending = PQflush(conn_.get());
  if (pending < 0) throw pg_error("cannot send to PostgreSQL: " + last_error(), "08006");
  return pending == 1;
}

int replication_connection::socket() const { return PQsocket(conn_.get()); }

}  // namespace deltastream::reader
