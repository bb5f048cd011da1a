#include "gateway/access_tokens.hpp"

#include <fstream>
#include <sstream>

#include "common/errors.hpp"

namespace deltastream::gateway {

namespace {

// Equal in time independent of where the first difference is (the length of the
// presented token is not secret; the content is).
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    difference |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return difference == 0;
}

}  // namespace

access_tokens access_tokens::load(const std::string& path) {
  std::ifstream file(path);
  if (!file) throw config_error("--token-file: cannot read \"" + path + "\"");
  std::stringstream text;
  text << file.rdbuf();
  return from_text(text.str(), path);
}

access_tokens access_tokens::from_text(std::string_view text, const std::string& source) {
  access_tokens result;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    const auto where = "--token-file " + source + ":" + std::to_string(number) + ": ";
    std::istringstream words(line);
    std::string scope, secret, extra;
    if (!(words >> scope) || scope.front() == '#') continue;
    if (!(words >> secret) || (words >> extra)) {
      throw config_error(where + "expected \"<admin|read> <token>\"");
    }
    if (scope != "admin" && scope != "read") {
      throw config_error(where + "unknown scope \"" + scope + "\" (admin or read)");
    }
    if (secret.size() < min_token_length) {
      throw config_error(where + "token shorter than " + std::to_string(min_token_length) +
                         " characters");
    }
    result.tokens_.push_back({secret, scope == "admin" ? access_scope::admin : access_scope::read});
  }
  if (result.tokens_.empty()) throw config_error("--token-file " + source + ": no tokens");
  return result;
}

std::optional<access_scope> access_tokens::authorize(std::string_view presented) const {
  // Every token is compared, so that the time does not tell which one was close.
  std::optional<access_scope> granted;
  for (const auto& candidate : tokens_) {
    if (same_secret(presented, candidate.secret)) granted = candidate.scope;
  }
  return granted;
}

}  // namespace deltastream::gateway
