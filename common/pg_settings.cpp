#include "common/pg_settings.hpp"

#include <cstdlib>

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

pg_parts pg_parts_from_environment() {
  const auto read = [](const char* name) {
    const char* value = std::getenv(name);
    return std::string(value ? value : "");
  };
  return {read("PGHOST"), read("PGPORT"), read("PGUSER"), read("PGPASS"), read("DBNAME")};
}

std::string resolve_conninfo(const std::string& given, const pg_parts& parts) {
  std::string conninfo = given;
  if (conninfo.empty()) {
    const std::pair<const char*, const std::string*> fields[] = {
        {"host", &parts.host}, {"port", &parts.port}, {"user", &parts.user},
        {"password", &parts.password}, {"dbname", &parts.dbname}};
    for (const auto& [keyword, value] : fields) {
      if (value->empty()) continue;
      if (!conninfo.empty()) conninfo.push_back(' ');
      conninfo += std::string(keyword) + "=" + quote_conninfo_value(*value);
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
