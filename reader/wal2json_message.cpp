#include "reader/wal2json_message.hpp"

namespace deltastream::reader {

std::optional<lsn> wal2json_next_lsn(std::string_view payload) {
  // The key comes before "change", so 200 bytes cover xid and timestamp in any case.
  static constexpr std::string_view key = "\"nextlsn\":";
  const auto head = payload.substr(0, 200);
  const auto change = head.find("\"change\"");
  auto at = head.find(key);
  if (at == std::string_view::npos || (change != std::string_view::npos && at > change)) {
    return std::nullopt;
  }
  at += key.size();
  while (at < head.size() && head[at] == ' ') ++at;
  if (at >= head.size() || head[at] != '"') return std::nullopt;
  const auto end = head.find('"', at + 1);
  if (end == std::string_view::npos) return std::nullopt;
  return lsn::parse(head.substr(at + 1, end - at - 1));
}

bool wal2json_is_standalone(std::string_view payload) {
  return payload.starts_with("{\"change\":[") && payload.ends_with("]}");
}

bool wal2json_is_empty(std::string_view payload) {
  return payload.ends_with("\"change\":[]}");
}

bool wal2json_ends_message(std::string_view chunk, bool first_chunk) {
  // A change chunk may end in "]}" too ({..."columnvalues":[1]}), so only the first
  // chunk is judged by its end.
  return chunk == "]}" || (first_chunk && chunk.ends_with("]}"));
}

}  // namespace deltastream::reader
