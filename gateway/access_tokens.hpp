#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deltastream::gateway {

// What a bearer token lets its holder do: `read` (snapshot pages, streams, ACKs,
// metrics) or `admin` (also /v1/init and creating and deleting v2 streams).
enum class access_scope { read, admin };

// A token's scope, and for a `read:a,b` token the v2 streams it is limited to (empty: all).
struct access_grant {
  access_scope scope = access_scope::read;
  std::vector<std::string> streams;
  bool limited() const { return !streams.empty(); }
  bool reads(std::string_view stream) const;
};

// The gateway's bearer tokens, from a file of lines "<scope> <token>" (blank lines and
// lines starting with # are skipped):
//   admin 3b1f9c0e5d7a4f2e8c6b0a9d1e3f5a7c
//   read  9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b
//   read:orders_sync,billing 5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f
// Tokens are compared in constant time and never logged.
class access_tokens {
 public:
  static constexpr std::size_t min_token_length = 16;

  // Throws config_error naming the file and line when the file is unreadable or a
  // line is malformed (unknown scope, token shorter than min_token_length, spaces).
  static access_tokens load(const std::string& path);
  static access_tokens from_text(std::string_view text, const std::string& source);

  // What the presented token grants, or nullopt for an unknown token.
  std::optional<access_grant> authorize(std::string_view presented) const;
  bool empty() const { return tokens_.empty(); }

 private:
  struct token {
    std::string secret;
    access_grant grant;
  };
  std::vector<token> tokens_;
};

}  // namespace deltastream::gateway
