#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>

#include "reader/json_value_writer.hpp"

namespace deltastream::reader {

// A column's type as a Relation message gives it: what format_type(oid, typmod) names.
struct type_key {
  std::uint32_t oid = 0;
  std::int32_t typmod = -1;
  auto operator<=>(const type_key&) const = default;
};

// What the reader knows of column types, for every stream: format_type(oid, typmod) (the
// common built-in types named here, builtin_type_names, every other one as PostgreSQL
// answered it), and how to_json writes a type's values (json_shape: built-in types by
// OID; a user-defined one, a domain or an array of them, as PostgreSQL's catalog says).
// Each is asked once per type, never per row.
class type_names {
 public:
  // nullptr when PostgreSQL must be asked.
  const std::string* find(type_key key) const;
  void insert(type_key key, std::string name) { names_.insert_or_assign(key, std::move(name)); }

  // nullptr when PostgreSQL must be asked (a type it created after initdb).
  const json_shape* shape(std::uint32_t oid) const;
  void insert_shape(std::uint32_t oid, json_shape shape) { shapes_.insert_or_assign(oid, shape); }

 private:
  mutable std::map<type_key, std::string> names_;  // built-in ones added as they are first used
  mutable std::map<std::uint32_t, json_shape> shapes_;
};

}  // namespace deltastream::reader
