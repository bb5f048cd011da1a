#include "reader/type_names.hpp"

#include "reader/builtin_type_names.hpp"

namespace deltastream::reader {

const std::string* type_names::find(type_key key) const {
  if (const auto found = names_.find(key); found != names_.end()) return &found->second;
  auto builtin = builtin_type_name(key);
  if (!builtin) return nullptr;
  return &names_.emplace(key, std::move(*builtin)).first->second;
}

const json_shape* type_names::shape(std::uint32_t oid) const {
  constexpr std::uint32_t first_normal_object_id = 16384;  // below: made by initdb, known by OID
  if (const auto found = shapes_.find(oid); found != shapes_.end()) return &found->second;
  if (oid >= first_normal_object_id) return nullptr;
  return &shapes_.emplace(oid, json_shape_of(oid)).first->second;
}

}  // namespace deltastream::reader
