#include "tests/integration/jetstream_read_consume.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "common/json_writer.hpp"
#include "tests/integration/jetstream_read_admin.hpp"

namespace deltastream::jetstream_read {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct consumer_info_deleter {
  void operator()(jsConsumerInfo* info) const { jsConsumerInfo_Destroy(info); }
};
using consumer_info_ptr = std::unique_ptr<jsConsumerInfo, consumer_info_deleter>;

struct subscription_deleter {
  // Destroy, never Unsubscribe: nats.c would delete the durable with the subscription.
  void operator()(natsSubscription* sub) const { natsSubscription_Destroy(sub); }
};
using subscription_ptr = std::unique_ptr<natsSubscription, subscription_deleter>;

// Owns the messages of one fetch.
struct fetched {
  natsMsgList list{};
  ~fetched() { natsMsgList_Destroy(&list); }
};

std::string headers_json(natsMsg* msg) {
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(msg, &keys, &count) != NATS_OK) return "{}";  // NATS_NOT_FOUND: none
  std::vector<std::string_view> names(keys, keys + count);
  std::free(static_cast<void*>(keys));  // the array is ours, the strings nats.c's
  std::sort(names.begin(), names.end());
  json_object headers;
  for (const auto name : names) {
    const char* value = nullptr;
    const std::string key(name);
    if (natsMsgHeader_Get(msg, key.c_str(), &value) == NATS_OK) headers.add(key, value != nullptr ? value : "");
  }
  return headers.str();
}

std::uint64_t stream_sequence(natsMsg* msg) {
  jsMsgMetaData* meta = nullptr;
  const natsStatus status = natsMsg_GetMetaData(&meta, msg);
  if (status != NATS_OK) {
    throw tool_error(tool_exit::failure, "message metadata: " + nats_failure::last(status, {}).text);
  }
  const std::uint64_t sequence = meta->Sequence.Stream;
  jsMsgMetaData_Destroy(meta);
  return sequence;
}

// Looks the durable up, creating it when missing; a consumer of another filter is refused.
void ensure_consumer(nats_session& session, error_budget& budget, const std::string& stream,
                     const read_options& options) {
  jsConsumerInfo* raw = nullptr;
  auto failure = retry_transient(budget, "consumer info", [&](jsErrCode* code) {
    jsConsumerInfo_Destroy(raw);
    raw = nullptr;
    return js_GetConsumerInfo(&raw, session.js(), stream.c_str(), options.durable.c_str(), nullptr, code);
  });
  consumer_info_ptr info(raw);
  if (!failure) {
    const char* filter = info->Config->FilterSubject != nullptr ? info->Config->FilterSubject : "";
    if (filter != options.filter) {
      throw tool_error(tool_exit::failure, "durable " + options.durable + " exists with filter \"" +
                                               filter + "\", not \"" + options.filter + "\"");
    }
    return;
  }
  if (failure->code == JSStreamNotFoundErr) {
    throw tool_error(tool_exit::no_stream, "stream " + stream + " does not exist");
  }
  if (failure->code != JSConsumerNotFoundErr) throw tool_error(tool_exit::failure, "consumer info: " + failure->text);

  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = options.durable.c_str();
  config.AckPolicy = js_AckExplicit;
  config.AckWait = std::chrono::duration_cast<std::chrono::nanoseconds>(options.ack_wait).count();
  config.DeliverPolicy = js_DeliverAll;
  if (!options.filter.empty()) config.FilterSubject = options.filter.c_str();
  failure = retry_transient(budget, "create consumer", [&](jsErrCode* code) {
    jsConsumerInfo_Destroy(raw);
    raw = nullptr;
    return js_AddConsumer(&raw, session.js(), stream.c_str(), &config, nullptr, code);
  });
  info.reset(raw);
  if (failure) throw tool_error(tool_exit::failure, "create consumer " + options.durable + ": " + failure->text);
}

subscription_ptr subscribe(nats_session& session, error_budget& budget, const std::string& stream,
                           const read_options& options) {
  jsSubOptions sub_options;
  jsSubOptions_Init(&sub_options);
  sub_options.Stream = stream.c_str();
  sub_options.Consumer = options.durable.c_str();  // bound: nats.c creates nothing
  natsSubscription* raw = nullptr;
  const auto failure = retry_transient(budget, "pull subscribe", [&](jsErrCode* code) {
    natsSubscription_Destroy(raw);
    raw = nullptr;
    return js_PullSubscribe(&raw, session.js(), nullptr, options.durable.c_str(), nullptr, &sub_options, code);
  });
  subscription_ptr sub(raw);
  if (failure) throw tool_error(tool_exit::failure, "pull subscribe: " + failure->text);
  return sub;
}

// A fetch timeout is ambiguous: nothing to deliver, or no consumer leader to ask. The
// consumer's info, answered by its leader, tells the two apart (and ack-pending counts:
// a delivery lost with a killed node comes again after AckWait).
bool confirmed_idle(nats_session& session, error_budget& budget, const std::string& stream,
                    const read_options& options) {
  jsConsumerInfo* raw = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_GetConsumerInfo(&raw, session.js(), stream.c_str(), options.durable.c_str(), nullptr, &code);
  consumer_info_ptr info(raw);
  if (status != NATS_OK) {
    budget.failed("idle check (consumer info)", nats_failure::last(status, code));
    return false;
  }
  const bool drained = info->NumPending == 0 && (options.ack == ack_mode::no_ack || info->NumAckPending == 0);
  if (!drained) {
    budget.failed("idle check", {NATS_OK, {}, "fetch timed out with " + std::to_string(info->NumPending) +
                                                   " pending and " + std::to_string(info->NumAckPending) +
                                                   " awaiting ack"});
  }
  return drained;
}

void acknowledge(error_budget& budget, natsMsg* msg) {
  const auto failure =
      retry_transient(budget, "ack", [&](jsErrCode* code) { return natsMsg_AckSync(msg, nullptr, code); });
  if (failure) throw tool_error(tool_exit::failure, "ack: " + failure->text);
}

// --no-ack: a NAK returns the messages to the consumer at once (no AckWait), so the next
// read gets them again. Sent as requests, as AckSync does, because the consumer leader
// answers every ack that has a reply subject: once answered, it has them back.
void hand_back(nats_session& session, error_budget& budget, const std::vector<std::string>& ack_subjects) {
  static constexpr std::string_view nak = "-NAK";
  for (const auto& subject : ack_subjects) {
    const auto failure = retry_transient(budget, "nak", [&](jsErrCode*) {
      natsMsg* reply = nullptr;
      const natsStatus status = natsConnection_Request(&reply, session.connection(), subject.c_str(), nak.data(),
                                                       static_cast<int>(nak.size()), api_wait.count());
      natsMsg_Destroy(reply);
      return status;
    });
    if (failure) throw tool_error(tool_exit::failure, "nak: " + failure->text);
  }
}

}  // namespace

std::string message_line(natsMsg* msg) {
  return json_object{}
      .add("subject", natsMsg_GetSubject(msg))
      .add("stream_seq", stream_sequence(msg))
      .raw("headers", headers_json(msg))
      .add("data", std::string_view(natsMsg_GetData(msg), static_cast<std::size_t>(natsMsg_GetDataLength(msg))))
      .str();
}

std::uint64_t read_stream(nats_session& session, error_budget& budget, const std::string& stream,
                          const read_options& options, std::FILE* out) {
  ensure_consumer(session, budget, stream, options);
  const auto sub = subscribe(session, budget, stream, options);
  std::uint64_t printed = 0;
  std::vector<std::string> unacknowledged;  // --no-ack: the ack subjects, for hand_back()
  auto last_message = clock::now();
  while (options.max == 0 || printed < options.max) {
    // Never more than --max asks for: a message fetched and not printed would stay
    // unacknowledged until AckWait, hidden from the next run.
    const std::uint64_t wanted =
        options.max == 0 ? options.batch : std::min<std::uint64_t>(options.batch, options.max - printed);
    // Up to the end of the idle time, so that an idle read ends on time; a second at most
    // and a tenth at least, so that the loop neither sleeps through nor spins.
    const auto idle_left = options.idle - std::chrono::duration_cast<milliseconds>(clock::now() - last_message);
    const auto fetch_wait = std::clamp(idle_left, milliseconds(100), milliseconds(1000));
    fetched batch;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status =
        natsSubscription_Fetch(&batch.list, sub.get(), static_cast<int>(wanted), fetch_wait.count(), &code);
    if (status == NATS_OK) {
      for (int i = 0; i < batch.list.Count; ++i) write_line(out, message_line(batch.list.Msgs[i]));
      for (int i = 0; i < batch.list.Count; ++i) {
        natsMsg* msg = batch.list.Msgs[i];
        if (options.ack == ack_mode::ack) {
          acknowledge(budget, msg);
        } else {
          unacknowledged.emplace_back(natsMsg_GetReply(msg));
        }
      }
      printed += static_cast<std::uint64_t>(batch.list.Count);
      last_message = clock::now();
      budget.succeeded();
    } else if (status == NATS_TIMEOUT) {
      if (clock::now() - last_message >= options.idle && confirmed_idle(session, budget, stream, options)) break;
    } else {
      budget.failed("fetch", nats_failure::last(status, code));
      std::this_thread::sleep_for(milliseconds(100));
    }
  }
  hand_back(session, budget, unacknowledged);
  return printed;
}

}  // namespace deltastream::jetstream_read
