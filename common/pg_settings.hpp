#pragma once

#include <string>

namespace deltastream {

// pgdeltastream's connection settings, each optional (empty = libpq's default).
struct pg_parts {
  std::string host;
  std::string port;
  std::string user;
  std::string password;
  std::string dbname;
};

// PGHOST PGPORT PGUSER PGPASS DBNAME, the variables pgdeltastream's image used.
pg_parts pg_parts_from_environment();

// The PostgreSQL connection string: `conninfo` (--pg) if given, else one built from
// `parts`, else libpq's own defaults (PGHOST, PGDATABASE, ~/.pgpass, ...). Throws
// config_error naming --pg when libpq cannot parse it.
std::string resolve_conninfo(const std::string& conninfo, const pg_parts& parts);

// Quotes one conninfo value ('...' with \ and ' escaped), for key=value strings.
std::string quote_conninfo_value(const std::string& value);

}  // namespace deltastream
