#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace deltastream::gateway {

// The native API's paths: /v2/streams, /v2/streams/{name} and /v2/streams/{name}/{action}
// (changes, snapshot). A stream's name is [a-z][a-z0-9_]{0,39}; its slot, and its
// publication, are delta_v2_{name} (reader/row_stream_spec.hpp).
struct v2_path {
  std::string name;    // empty: the collection
  std::string action;  // empty: the stream itself
};

// nullopt when `path` is not under /v2/streams. The name is not checked here.
std::optional<v2_path> parse_v2_path(std::string_view path);
bool valid_v2_name(std::string_view name);
std::string v2_slot(std::string_view name);
// The v2 name of a row stream's slot, or empty when it is not one.
std::string v2_name_of_slot(std::string_view slot);

}  // namespace deltastream::gateway
