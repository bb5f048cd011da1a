#include "reader/slot_drops.hpp"

#include <algorithm>

#include "common/logging.hpp"
#include "proto/control_message.hpp"

namespace deltastream::reader {

void slot_drops::drop(const std::string& stream, std::string id, std::uint64_t ticket, owner whose) {
  const auto now = clock::now();
  const auto key = next_key_++;
  pending_[key] = {ticket, std::move(id), stream, whose == owner::ours ? now + patience : now, now};
  ask(key);
}

void slot_drops::ask(std::uint64_t key) {
  auto& drop = pending_.at(key);
  drop.asking = true;
  catalog_.drop(drop.stream, [this, key](slot_catalog::outcome<bool> outcome) { answer(key, std::move(outcome)); });
}

void slot_drops::answer(std::uint64_t key, slot_catalog::outcome<bool> outcome) {
  auto found = pending_.find(key);
  auto& drop = found->second;
  drop.asking = false;
  std::string reply;
  if (outcome.error) {
    const auto now = clock::now();
    if (outcome.error->sqlstate() == "55006" && now < drop.give_up) {
      drop.next_try = now + retry_interval;  // our walsender is still exiting
      return;
    }
    module_logger("control")->warn("drop {}: {}", drop.stream, outcome.error->what());
    reply = proto::error_reply(drop.id, proto::refusal_code::postgres, outcome.error->what());
  } else if (!outcome.value) {
    reply = proto::error_reply(drop.id, proto::refusal_code::no_such_stream,
                               "no such stream \"" + drop.stream + "\"");
  } else {
    module_logger("control")->info("dropped {}", drop.stream);
    reply = proto::ok_reply(drop.id).add("stream", drop.stream).str();
  }
  const auto ticket = drop.ticket;
  pending_.erase(found);
  reply_(ticket, std::move(reply));
}

void slot_drops::retry(clock::time_point now) {
  for (auto& [key, drop] : pending_) {
    if (!drop.asking && now >= drop.next_try) ask(key);
  }
}

bool slot_drops::dropping(std::string_view stream) const {
  return std::any_of(pending_.begin(), pending_.end(),
                     [&](const auto& entry) { return entry.second.stream == stream; });
}

slot_drops::clock::time_point slot_drops::next_deadline(clock::time_point deadline) const {
  for (const auto& [key, drop] : pending_) {
    if (!drop.asking) deadline = std::min(deadline, drop.next_try);
  }
  return deadline;
}

}  // namespace deltastream::reader
