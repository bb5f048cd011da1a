#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace deltastream::gateway {

// What a bearer token lets its holder do: `read` (snapshot pages, streams, ACKs,
// metrics) or `admin` (also /v1/init, which creates and drops slots).
enum class access_scope { read, admin };

// The gateway's bearer tokens, from a file of lines "<scope> <token>" (blank lines and
// lines starting with # are skipped):
//   admin 3b1f9c0e5d7a4f2e8c6b0a9d1e3f5a7c
//   read  9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b
// Tokens are compared in constant time and never logged.
class access_tokens {
 public:
  static constexpr std::size_t min_token_length = 16;

  // Throws config_error naming the file and line when the file is unreadable or a
  // line is malformed (unknown scope, token shorter than min_token_length, spaces).
  static access_tokens load(const std::string& path);
  static access_tokens from_text(std::string_view text, const std::string& source);

  // The scope of the presented token, or nullopt for an unknown token.
  std::optional<access_scope> authorize(std::string_view presented) const;
  bool empty() const { return tokens_.empty(); }

 private:
  struct token {
    std::string secret;
    access_scope scope;
  };
  std::vector<token> tokens_;
};

}  // namespace deltastream::gateway
