#include "reader/builtin_type_names.hpp"

#include <cstdint>

namespace deltastream::reader {

namespace {

// pg_type OIDs (catalog/pg_type.dat) of the element types named here, and their arrays.
struct builtin {
  std::uint32_t oid;
  std::uint32_t array_oid;
  const char* name;
};
constexpr builtin builtins[] = {
    {16, 1000, "boolean"},   {17, 1001, "bytea"},       {20, 1016, "bigint"},
    {21, 1005, "smallint"},  {23, 1007, "integer"},     {25, 1009, "text"},
    {26, 1028, "oid"},       {114, 199, "json"},        {700, 1021, "real"},
    {701, 1022, "double precision"}, {790, 791, "money"}, {869, 1041, "inet"},
    {650, 651, "cidr"},      {1042, 1014, "bpchar"},    {1043, 1015, "character varying"},
    {1082, 1182, "date"},    {1083, 1183, "time"},      {1114, 1115, "timestamp"},
    {1184, 1185, "timestamptz"}, {1186, 1187, "interval"}, {1266, 1270, "timetz"},
    {1700, 1231, "numeric"}, {2950, 2951, "uuid"},      {3802, 3807, "jsonb"},
};

// What format_type_extended writes for `oid` with `typmod` given (-1: none).
std::optional<std::string> element_name(std::uint32_t oid, std::int32_t typmod) {
  const bool modified = typmod >= 0;
  const auto precision = [&](const char* base, const char* zone) {
    return std::string(base) + (modified ? "(" + std::to_string(typmod) + ")" : "") + zone;
  };
  switch (oid) {
    case 1042:  // bpchar(n) is CHARACTER(n); without a typmod it stays bpchar
      return modified ? "character(" + std::to_string(typmod - 4) + ")" : std::string("bpchar");
    case 1043:
      return modified ? "character varying(" + std::to_string(typmod - 4) + ")"
                      : std::string("character varying");
    case 1700: {
      if (!modified) return std::string("numeric");
      const int precision_digits = ((typmod - 4) >> 16) & 0xffff;
      const int scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;  // negative scales since 15
      return "numeric(" + std::to_string(precision_digits) + "," + std::to_string(scale) + ")";
    }
    case 1083: return precision("time", " without time zone");
    case 1266: return precision("time", " with time zone");
    case 1114: return precision("timestamp", " without time zone");
    case 1184: return precision("timestamp", " with time zone");
    case 1186:  // interval's typmod encodes fields too: PostgreSQL names those
      if (modified) return std::nullopt;
      return std::string("interval");
    default: break;
  }
  if (modified) return std::nullopt;  // a typmod this table does not know how to print
  for (const auto& type : builtins) {
    if (type.oid == oid) return std::string(type.name);
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> builtin_type_name(type_key key) {
  for (const auto& type : builtins) {
    // An array's typmod is its element's: integer[], character varying(30)[].
    if (type.array_oid == key.oid) {
      auto element = element_name(type.oid, key.typmod);
      return element ? std::optional<std::string>(*element + "[]") : std::nullopt;
    }
  }
  return element_name(key.oid, key.typmod);
}

}  // namespace deltastream::reader
