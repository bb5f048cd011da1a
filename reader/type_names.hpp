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

// format_type(oid, typmod) as PostgreSQL answered it, for every stream of the reader:
// asked once per (oid, typmod), never per row.
class type_names {
 public:
  const std::string* find(type_key key) const {
    const auto found = names_.find(key);
    return found == names_.end() ? nullptr : &found->second;
  }
  void insert(type_key key, std::string name) { names_.insert_or_assign(key, std::move(name)); }

 private:
  std::map<type_key, std::string> names_;
};

}  // namespace deltastream::reader
