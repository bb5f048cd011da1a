#include "reader/replication_connection.hpp"

#include "common/errors.hpp"

namespace deltastream::reader {

replication_connection::replication_connection(const std::string& conninfo)
    : conn_(pg_connect(conninfo, connection_kind::replication)) {}

void replication_connection::send_create_slot(const std::string& slot, const std::string& plugin) {
  // Replication commands take no parameters: the slot name is validated by
  // stream_name and still quoted; EXPORT_SNAPSHOT is the pre-15 spelling that 10..17 accept.
  const std::string command = "CREATE_REPLICATION_SLOT " +
                              pg_quote_identifier(conn_.get(), slot) + " LOGICAL " +
                              pg_quote_identifier(conn_.get(), plugin) + " EXPORT_SNAPSHOT";
  if (!PQsendQuery(conn_.get(), command.c_str())) {
    throw pg_error("CREATE_REPLICATION_SLOT: " + last_error(), "");
  }
}

std::optional<replication_connection::created_slot> replication_connection::poll_create_slot() {
  consume_input();
  if (PQisBusy(conn_.get())) return std::nullopt;
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

void replication_connection::start_replication(
    const std::string& slot, lsn start,
    const std::vector<std::pair<std::string, std::string>>& options) {
  std::string command = "START_REPLICATION SLOT " + pg_quote_identifier(conn_.get(), slot) +
                        " LOGICAL " + start.to_string();
  if (!options.empty()) {
    command += " (";
    for (std::size_t i = 0; i < options.size(); ++i) {
      if (i) command += ", ";
      char* value = PQescapeLiteral(conn_.get(), options[i].second.data(), options[i].second.size());
      if (!value) throw pg_error("cannot quote option: " + last_error(), "");
      command += pg_quote_identifier(conn_.get(), options[i].first) + " " + value;
      PQfreemem(value);
    }
    command += ")";
  }
  pg_check(conn_.get(), PQexec(conn_.get(), command.c_str()), PGRES_COPY_BOTH, "START_REPLICATION");
  if (PQsetnonblocking(conn_.get(), 1) != 0) {
    throw pg_error("cannot make the replication connection non-blocking: " + last_error(), "");
  }
}

void replication_connection::consume_input() {
  if (!PQconsumeInput(conn_.get())) {
    throw pg_error("replication connection lost: " + last_error(), "08006");
  }
}

void copy_data::libpq_free::operator()(char* data) const { PQfreemem(data); }

replication_connection::read_status replication_connection::read(copy_data& out) {
  char* buffer = nullptr;
  const int length = PQgetCopyData(conn_.get(), &buffer, /*async=*/1);
  if (length > 0) {
    out.reset(buffer, static_cast<std::size_t>(length));
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
