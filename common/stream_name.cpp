#include "common/stream_name.hpp"

#include <array>
#include <random>

namespace deltastream {

std::optional<stream_name> stream_name::parse(std::string_view text) {
  if (text.size() <= prefix.size() || text.size() > 63 || text.substr(0, prefix.size()) != prefix) {
    return std::nullopt;
  }
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return std::nullopt;
  }
  return stream_name(std::string(text));
}

stream_name stream_name::generate() {
  // pgdeltastream's words, so names still look familiar; the suffix makes collisions
  // practically impossible (the original had 1000 names, reseeded every second).
  static constexpr std::array<std::string_view, 10> words = {
      "gigantic", "scold", "greasy", "shaggy", "wasteful",
      "few",      "face",  "pet",    "ablaze", "mundane"};
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::random_device source;
  std::uniform_int_distribution<std::size_t> pick_word(0, words.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_char(0, alphabet.size() - 1);
  std::string name(prefix);
  name += words[pick_word(source)];
  for (int i = 0; i < 6; ++i) name.push_back(alphabet[pick_char(source)]);
  return stream_name(std::move(name));
}

}  // namespace deltastream
