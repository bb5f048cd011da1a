#include "gateway/access_tokens.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "gateway/v2_path.hpp"

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

// "read:orders_sync,billing": the streams a read token is limited to.
std::optional<access_grant> parse_scope(const std::string& scope) {
  if (scope == "admin") return access_grant{access_scope::admin, {}};
  if (scope == "read") return access_grant{access_scope::read, {}};
  if (!scope.starts_with("read:")) return std::nullopt;
  access_grant grant;
  std::istringstream names(scope.substr(5));
  for (std::string name; std::getline(names, name, ',');) {
    if (!valid_v2_name(name)) return std::nullopt;
    grant.streams.push_back(name);
  }
  if (grant.streams.empty()) return std::nullopt;
  return grant;
}

}  // namespace

bool access_grant::reads(std::string_view stream) const {
  return !limited() || std::find(streams.begin(), streams.end(), stream) != streams.end();
}

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
      throw config_error(where + "expected \"<admin|read|read:stream,...> <token>\"");
    }
    const auto grant = parse_scope(scope);
    if (!grant) {
      throw config_error(where + "unknown scope \"" + scope + "\" (admin, read, or read: and v2 stream names, "
                         "comma separated, like read:orders_sync,billing)");
    }
    if (secret.size() < min_token_length) {
      throw config_error(where + "token shorter than " + std::to_string(min_token_length) +
                         " characters");
    }
    result.tokens_.push_back({secret, *grant});
  }
  if (result.tokens_.empty()) throw config_error("--token-file " + source + ": no tokens");
  return result;
}

std::optional<access_grant> access_tokens::authorize(std::string_view presented) const {
  // Every token is compared, so that the time does not tell which one was close.
  std::optional<access_grant> granted;
  for (const auto& candidate : tokens_) {
    if (same_secret(presented, candidate.secret)) granted = candidate.grant;
  }
  return granted;
}

}  // namespace deltastream::gateway
