#include "reader/slot_drops.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "common/logging.hpp"
#include "proto/control_message.hpp"

namespace deltastream::reader {

std::optional<std::string> slot_drops::drop(const std::string& stream, std::string id,
                                            std::uint64_t ticket, owner whose) {
  const auto now = clock::now();
  pending drop{ticket, std::move(id), stream, whose == owner::ours ? now + patience : now, now};
  auto reply = attempt(drop);
  if (!reply) pending_.push_back(std::move(drop));
  return reply;
}

std::optional<std::string> slot_drops::attempt(pending& drop) {
  bool dropped = false;
  try {
    dropped = catalog_.drop(drop.stream);
  } catch (const pg_error& error) {
    const auto now = clock::now();
    if (error.sqlstate() != "55006" || now >= drop.give_up) throw;
    drop.next_try = now + retry_interval;
    return std::nullopt;
  }
  if (!dropped) {
    return proto::error_reply(drop.id, proto::refusal_code::no_such_stream,
                              "no such stream \"" + drop.stream + "\"");
  }
  module_logger("control")->info("dropped {}", drop.stream);
  return proto::ok_reply(drop.id).add("stream", drop.stream).str();
}

void slot_drops::retry(clock::time_point now, const reply_function& reply) {
  std::erase_if(pending_, [&](pending& drop) {
    if (now < drop.next_try) return false;
    std::optional<std::string> answer;
    try {
      answer = attempt(drop);
    } catch (const pg_error& error) {
      catalog_.forget_if_broken();
      answer = proto::error_reply(drop.id, proto::refusal_code::postgres, error.what());
    }
    if (answer) reply(drop.ticket, std::move(*answer));
    return answer.has_value();
  });
}

bool slot_drops::dropping(std::string_view stream) const {
  return std::any_of(pending_.begin(), pending_.end(), [&](const pending& drop) { return drop.stream == stream; });
}

slot_drops::clock::time_point slot_drops::next_deadline(clock::time_point deadline) const {
  for (const auto& drop : pending_) deadline = std::min(deadline, drop.next_try);
  return deadline;
}

}  // namespace deltastream::reader
