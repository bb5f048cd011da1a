#pragma once

#include <string>

namespace deltastream {

// The PostgreSQL connection string: --pg CONNINFO if given, else one built from
// pgdeltastream's variables (PGHOST PGPORT PGUSER PGPASS DBNAME), else libpq's own
// defaults (PGHOST, PGDATABASE, ~/.pgpass, ...). Throws config_error naming --pg when
// libpq cannot parse it.
std::string resolve_conninfo(const std::string& flag_value);

// Quotes one conninfo value ('...' with \ and ' escaped), for key=value strings.
std::string quote_conninfo_value(const std::string& value);

}  // namespace deltastream
