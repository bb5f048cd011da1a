#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace deltastream {

// A PostgreSQL WAL position. Text form "X/Y": two hex numbers of at most 8 digits,
// the high and low 32 bits (pg_lsn_in in src/backend/utils/adt/pg_lsn.c).
class lsn {
 public:
  constexpr lsn() = default;
  constexpr explicit lsn(std::uint64_t value) : value_(value) {}

  // Parses "X/Y"; nullopt on anything else (empty halves, >8 digits, junk, spaces).
  static std::optional<lsn> parse(std::string_view text);

  constexpr std::uint64_t value() const { return value_; }
  constexpr bool is_zero() const { return value_ == 0; }
  std::string to_string() const;  // uppercase hex, like PostgreSQL and wal2json

  friend constexpr auto operator<=>(lsn, lsn) = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace deltastream
