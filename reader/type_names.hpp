#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <string>

namespace deltastream::reader {

// A column's type as a Relation message gives it: what format_type(oid, typmod) names.
struct type_key {
  std::uint32_t oid = 0;
  std::int32_t typmod = -1;
  auto operator<=>(const type_key&) const = default;
};

// format_type(oid, typmod) for every stream of the reader: the common built-in types
// named here (builtin_type_names), every other one as PostgreSQL answered it, asked once
// per (oid, typmod), never per row.
class type_names {
 public:
  // nullptr when PostgreSQL must be asked.
  const std::string* find(type_key key) const;
  void insert(type_key key, std::string name) { names_.insert_or_assign(key, std::move(name)); }

 private:
  mutable std::map<type_key, std::string> names_;  // built-in ones added as they are first used
};

}  // namespace deltastream::reader
