#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace deltastream {

// The name of a stream, which is also its replication slot's name: "delta_" followed by
// 1..57 of [a-z0-9_] (slot names allow [a-z0-9_] up to 63 bytes). Only slots with this
// prefix are ever listed or dropped: pgdeltastream dropped every slot *containing*
// "delta_", in any database; we never touch a slot we did not name.
class stream_name {
 public:
  static constexpr std::string_view prefix = "delta_";

  static std::optional<stream_name> parse(std::string_view text);
  // delta_<word><6 random chars>: 10 words x 36^6 suffixes from the OS random source.
  static stream_name generate();

  const std::string& str() const { return name_; }
  friend bool operator==(const stream_name&, const stream_name&) = default;
  friend auto operator<=>(const stream_name&, const stream_name&) = default;

 private:
  explicit stream_name(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace deltastream
