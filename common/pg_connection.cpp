#include "common/pg_connection.hpp"

#include <algorithm>
#include <cstdlib>

#include "common/errors.hpp"

namespace deltastream {

namespace {

std::string trim_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

std::string pg_error_message(PGconn* conn) {
  return trim_newline(conn ? PQerrorMessage(conn) : "no connection");
}

namespace {

constexpr const char* default_connect_timeout = "10";

// Keyword arrays let us add replication and a default timeout without editing the
// user's conninfo string; expand_dbname parses it (URI or key=value), and settings in
// it win over the defaults listed before it.
struct connect_parameters {
  std::vector<const char*> keys = {"connect_timeout", "application_name", "dbname"};
  std::vector<const char*> values;

  connect_parameters(const std::string& conninfo, connection_kind kind)
      : values{default_connect_timeout, "deltastream", conninfo.c_str()} {
    if (kind == connection_kind::replication) {
      keys.push_back("replication");
      values.push_back("database");
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
  }
};

}  // namespace

pg_conn pg_connect(const std::string& conninfo, connection_kind kind) {
  const connect_parameters parameters(conninfo, kind);
  pg_conn conn(PQconnectdbParams(parameters.keys.data(), parameters.values.data(), /*expand_dbname=*/1));
  if (!conn) throw pg_error("out of memory creating a PostgreSQL connection", "");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw pg_error("cannot connect to PostgreSQL: " + pg_error_message(conn.get()), "08006");
  }
  return conn;
}

pg_conn pg_connect_start(const std::string& conninfo, connection_kind kind) {
  const connect_parameters parameters(conninfo, kind);
  pg_conn conn(PQconnectStartParams(parameters.keys.data(), parameters.values.data(), /*expand_dbname=*/1));
  if (!conn) throw pg_error("out of memory creating a PostgreSQL connection", "");
  if (PQstatus(conn.get()) == CONNECTION_BAD) {
    throw pg_error("cannot connect to PostgreSQL: " + pg_error_message(conn.get()), "08006");
  }
  return conn;
}

int pg_connect_timeout_seconds(const std::string& conninfo) {
  int seconds = std::stoi(default_connect_timeout);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (error) PQfreemem(error);
  if (!options) return seconds;
  for (auto* option = options; option->keyword; ++option) {
    if (std::string_view(option->keyword) == "connect_timeout" && option->val && *option->val) {
      // libpq's own rule: at least 2 s. Zero (wait for ever) keeps the default: the
      // reader retries with backoff rather than wait for a server that never answers.
      if (const int value = std::atoi(option->val); value > 0) seconds = std::max(2, value);
    }
  }
  PQconninfoFree(options);
  return seconds;
}

pg_result pg_check(PGconn* conn, PGresult* raw, ExecStatusType expected, std::string_view what) {
  pg_result result(raw);
  if (!result) throw pg_error(std::string(what) + ": " + pg_error_message(conn), "");
  if (PQresultStatus(result.get()) != expected) {
    const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
    throw pg_error(std::string(what) + ": " + trim_newline(PQresultErrorMessage(result.get())),
                   state ? state : "");
  }
  return result;
}

pg_result pg_exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                  ExecStatusType expected) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  return pg_check(conn,
                  PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0),
                  expected, sql);
}

std::string pg_quote_identifier(PGconn* conn, std::string_view identifier) {
  char* quoted = PQescapeIdentifier(conn, identifier.data(), identifier.size());
  if (!quoted) throw pg_error("cannot quote identifier: " + pg_error_message(conn), "");
  std::string result(quoted);
  PQfreemem(quoted);
  return result;
}

}  // namespace deltastream
