#include "reader/consumer_leases.hpp"

namespace deltastream::reader {

std::optional<consumer_leases::refusal> consumer_leases::check(const std::string& stream,
                                                               const std::string& consumer,
                                                               bool takeover,
                                                               clock::time_point now) const {
  const auto found = leases_.find(stream);
  if (found != leases_.end() && found->second.consumer != consumer && !takeover) {
    const auto silent = now - found->second.renewed;
    if (silent < lease_duration) {
      return refusal{found->second.consumer,
                     std::chrono::duration_cast<std::chrono::milliseconds>(lease_duration - silent)};
    }
  }
  return std::nullopt;
}

void consumer_leases::grant(const std::string& stream, const std::string& consumer,
                            clock::time_point now) {
  leases_[stream] = lease{consumer, now};
}

std::optional<consumer_leases::refusal> consumer_leases::claim(const std::string& stream,
                                                               const std::string& consumer,
                                                               bool takeover,
                                                               clock::time_point now) {
  auto refused = check(stream, consumer, takeover, now);
  if (!refused) grant(stream, consumer, now);
  return refused;
}

std::optional<std::string> consumer_leases::holder(const std::string& stream,
                                                   clock::time_point now) const {
  const auto found = leases_.find(stream);
  if (found == leases_.end() || now - found->second.renewed >= lease_duration) return std::nullopt;
  return found->second.consumer;
}

bool consumer_leases::renew(const std::string& stream, const std::string& consumer,
                            clock::time_point now) {
  auto found = leases_.find(stream);
  if (found == leases_.end()) {
    // Lost with a reader restart, or expired while nobody else wanted it: take it back.
    leases_[stream] = lease{consumer, now};
    return true;
  }
  if (found->second.consumer != consumer) return false;
  found->second.renewed = now;
  return true;
}

void consumer_leases::release(const std::string& stream, const std::string& consumer) {
  auto found = leases_.find(stream);
  if (found != leases_.end() && found->second.consumer == consumer) leases_.erase(found);
}

void consumer_leases::forget(const std::string& stream) { leases_.erase(stream); }

}  // namespace deltastream::reader
