#include "proto/jetstream/publish_ledger.hpp"

namespace deltastream::jetstream {

publish_ledger::transaction* publish_ledger::find(lsn commit) {
  // Answers come mostly in order: the one sought is near the front.
  for (auto& entry : transactions_) {
    if (entry.commit == commit) return &entry;
  }
  return nullptr;
}

void publish_ledger::sent(lsn commit) {
  std::lock_guard lock(mutex_);
  if (transactions_.empty() || transactions_.back().commit != commit) transactions_.push_back({commit, 0, {}});
  ++transactions_.back().in_flight;
}

void publish_ledger::closed(lsn commit, ack_point ack) {
  std::lock_guard lock(mutex_);
  if (transactions_.empty() || transactions_.back().commit != commit) transactions_.push_back({commit, 0, {}});
  transactions_.back().ack = ack;
}

void publish_ledger::withdrawn(lsn commit) {
  std::lock_guard lock(mutex_);
  if (auto* entry = find(commit); entry && entry->in_flight > 0) --entry->in_flight;
}

void publish_ledger::stored(std::uint64_t generation, lsn commit) {
  std::lock_guard lock(mutex_);
  if (generation != generation_) return;
  if (auto* entry = find(commit); entry && entry->in_flight > 0) --entry->in_flight;
}

void publish_ledger::refused(std::uint64_t generation, lsn commit, std::string why) {
  std::lock_guard lock(mutex_);
  if (generation != generation_ || !find(commit)) return;
  if (!failure_) failure_ = std::move(why);
}

std::optional<ack_point> publish_ledger::take_stored() {
  std::lock_guard lock(mutex_);
  std::optional<ack_point> newest;
  if (failure_) return newest;
  while (!transactions_.empty() && transactions_.front().ack && transactions_.front().in_flight == 0) {
    newest = transactions_.front().ack;
    transactions_.pop_front();
  }
  return newest;
}

std::optional<std::string> publish_ledger::failure() const {
  std::lock_guard lock(mutex_);
  return failure_;
}

std::size_t publish_ledger::transactions() const {
  std::lock_guard lock(mutex_);
  return transactions_.size();
}

void publish_ledger::reset() {
  std::lock_guard lock(mutex_);
  transactions_.clear();
  failure_.reset();
  ++generation_;
}

std::uint64_t publish_ledger::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

}  // namespace deltastream::jetstream
