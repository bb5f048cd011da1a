#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <libpq-fe.h>

namespace deltastream {

struct pg_conn_deleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
struct pg_result_deleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using pg_conn = std::unique_ptr<PGconn, pg_conn_deleter>;
using pg_result = std::unique_ptr<PGresult, pg_result_deleter>;

enum class connection_kind { sql, replication };

// Opens a connection (blocking, bounded by connect_timeout in the conninfo or 10 s).
// A replication connection adds replication=database so that it can both run
// replication commands and plain SQL. Throws pg_error with PQerrorMessage.
pg_conn pg_connect(const std::string& conninfo, connection_kind kind);
// The same connection started without blocking (PQconnectStartParams): drive it with
// PQconnectPoll. libpq does not apply connect_timeout then: see pg_connect_timeout.
pg_conn pg_connect_start(const std::string& conninfo, connection_kind kind);
// The connect_timeout that conninfo sets, or pg_connect's default (10 s).
int pg_connect_timeout_seconds(const std::string& conninfo);

// Runs a parameterised statement; values are always sent as parameters, never pasted.
// Throws pg_error unless the result status is `expected`.
pg_result pg_exec(PGconn* conn, const std::string& sql, const std::vector<std::string>& params,
                  ExecStatusType expected = PGRES_TUPLES_OK);

// Checks a result already obtained (PQexec, PQgetResult); throws pg_error on mismatch.
pg_result pg_check(PGconn* conn, PGresult* result, ExecStatusType expected, std::string_view what);

// Quotes an identifier with PQescapeIdentifier (for commands that take no parameters,
// such as the replication commands).
std::string pg_quote_identifier(PGconn* conn, std::string_view identifier);

// The message of the last error on a connection, without libpq's trailing newline.
std::string pg_error_message(PGconn* conn);

}  // namespace deltastream
