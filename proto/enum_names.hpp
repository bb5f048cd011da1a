#pragma once

#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace deltastream::proto {

// The wire names of an enum's values, one table per enum: to and from text.
template <class Enum, std::size_t N>
using enum_names = std::array<std::pair<Enum, std::string_view>, N>;

template <class Enum, std::size_t N>
std::optional<std::string_view> name_of(const enum_names<Enum, N>& names, Enum value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return std::nullopt;
}

template <class Enum, std::size_t N>
std::optional<Enum> value_of(const enum_names<Enum, N>& names, std::string_view text) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  return std::nullopt;
}

}  // namespace deltastream::proto
