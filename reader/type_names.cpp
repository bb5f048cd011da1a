#include "reader/type_names.hpp"

#include "reader/builtin_type_names.hpp"

namespace deltastream::reader {

const std::string* type_names::find(type_key key) const {
  if (const auto found = names_.find(key); found != names_.end()) return &found->second;
  auto builtin = builtin_type_name(key);
  if (!builtin) return nullptr;
  return &names_.emplace(key, std::move(*builtin)).first->second;
}

}  // namespace deltastream::reader
