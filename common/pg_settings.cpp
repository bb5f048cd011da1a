#include "common/pg_settings.hpp"

#include <cstdlib>
#include <utility>

#include <libpq-fe.h>

#include "common/errors.hpp"

namespace deltastream {

std::string quote_conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\\' || c == '\'') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string resolve_conninfo(const std::string& flag_value) {
  std::string conninfo = flag_value;
  if (conninfo.empty()) {
    // pgdeltastream's names; PGPASS and DBNAME are not libpq's, so map them here.
    static const std::pair<const char*, const char*> variables[] = {
        {"PGHOST", "host"}, {"PGPORT", "port"}, {"PGUSER", "user"},
        {"PGPASS", "password"}, {"DBNAME", "dbname"}};
    for (const auto& [variable, keyword] : variables) {
      const char* value = std::getenv(variable);
      if (!value || !*value) continue;
      if (!conninfo.empty()) conninfo.push_back(' ');
      conninfo += std::string(keyword) + "=" + quote_conninfo_value(value);
    }
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (!options) {
    std::string message = error ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    throw config_error("--pg: invalid PostgreSQL connection string: " + message);
  }
  PQconninfoFree(options);
  return conninfo;
}

}  // namespace deltastream
