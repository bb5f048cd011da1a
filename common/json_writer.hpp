#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace deltastream {

// Appends `text` as a JSON string literal (quotes included) to `out`. Control
// characters are \u-escaped; invalid UTF-8 is passed through unchanged.
void append_json_string(std::string& out, std::string_view text);

// Builds one flat JSON object: {"key":value,...}. Values that are themselves JSON
// (arrays, nested objects) go through raw().
class json_object {
 public:
  json_object& add(std::string_view key, std::string_view value);
  json_object& add(std::string_view key, const char* value) {
    return add(key, std::string_view(value));
  }
  json_object& add(std::string_view key, std::int64_t value);
  json_object& add(std::string_view key, std::uint64_t value);
  json_object& add(std::string_view key, int value) {
    return add(key, static_cast<std::int64_t>(value));
  }
  json_object& add(std::string_view key, bool value);
  json_object& raw(std::string_view key, std::string_view json);
  std::string str() const { return body_ + "}"; }

 private:
  void key(std::string_view key);
  std::string body_ = "{";
};

}  // namespace deltastream
