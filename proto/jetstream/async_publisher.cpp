#include "proto/jetstream/async_publisher.hpp"

#include "common/logging.hpp"

namespace deltastream::jetstream {

namespace {

constexpr const char* lsn_header = "Deltastream-Lsn";
constexpr const char* xid_header = "Deltastream-Xid";

// How long a publish waits for room when max_in_flight are unanswered, before the
// caller gets `stalled` (and renews its lease, ACKs what was stored, checks for failures).
constexpr std::int64_t stall_wait_ms = 50;

struct message_handle {
  ~message_handle() { natsMsg_Destroy(message); }
  natsMsg* message = nullptr;
};

}  // namespace

async_publisher::async_publisher(nats_connection& connection, publish_ledger& ledger, const std::string& js_stream,
                                 int max_in_flight, std::chrono::milliseconds ack_timeout)
    : ledger_(ledger),
      route_(new answer_route{&ledger, ledger.generation()}),
      js_stream_(js_stream),
      ack_timeout_(ack_timeout) {
  jsOptions options;
  jsOptions_Init(&options);
  options.Wait = ack_timeout.count();
  options.PublishAsync.MaxPending = max_in_flight;
  options.PublishAsync.AckHandler = &async_publisher::on_answer;
  options.PublishAsync.AckHandlerClosure = route_;
  options.PublishAsync.StallWait = stall_wait_ms;
  const auto status = natsConnection_JetStream(&js_, connection.get(), &options);
  if (status != NATS_OK) throw nats_failure("JetStream context", status);
}

async_publisher::~async_publisher() {
  // Unanswered publishes are dropped with it: their answers are not waited for.
  jsCtx_Destroy(js_);
}

async_publisher::result async_publisher::publish(const outgoing_message& message) {
  message_handle handle;
  auto status = natsMsg_Create(&handle.message, message.subject.c_str(), nullptr, message.payload.data(),
                               static_cast<int>(message.payload.size()));
  const auto commit = message.commit.to_string();
  if (status == NATS_OK) status = natsMsgHeader_Set(handle.message, "Nats-Msg-Id", message.id.c_str());
  if (status == NATS_OK) status = natsMsgHeader_Set(handle.message, lsn_header, commit.c_str());
  if (status == NATS_OK && message.xid) {
    status = natsMsgHeader_Set(handle.message, xid_header, std::to_string(*message.xid).c_str());
  }
  if (status != NATS_OK) throw nats_failure("building message " + message.id, status);
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = ack_timeout_.count();
  // Stored by our stream or refused: never taken by another stream that matches the subject.
  options.ExpectStream = js_stream_.c_str();
  ledger_.sent(message.commit);
  status = js_PublishMsgAsync(js_, &handle.message, &options);
  if (status == NATS_OK) return result::sent;
  ledger_.withdrawn(message.commit);
  if (status == NATS_TIMEOUT) return result::stalled;
  throw nats_failure("publishing " + message.id + " (" + std::to_string(message.payload.size()) + " bytes) to " +
                         message.subject,
                     status);
}

void async_publisher::wait_for_answers(std::chrono::milliseconds limit) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MaxWait = limit.count();
  js_PublishAsyncComplete(js_, &options);  // a timeout leaves the rest unacknowledged: it comes again
}

// On NATS's thread: which transaction the answer is about is in the message's header.
void async_publisher::on_answer(jsCtx*, natsMsg* sent, jsPubAck* ack, jsPubAckErr* error, void* closure) {
  const auto& route = *static_cast<const answer_route*>(closure);
  message_handle handle{sent};  // ours to destroy
  const char* commit_text = nullptr;
  if (natsMsgHeader_Get(sent, lsn_header, &commit_text) != NATS_OK) return;
  const auto commit = lsn::parse(commit_text);
  if (!commit) return;
  if (error == nullptr && ack != nullptr) {
    route.ledger->stored(route.generation, *commit);
  } else if (error != nullptr) {
    std::string why = std::string("JetStream did not store ") + natsMsg_GetSubject(sent) + ": " +
                      (error->ErrText ? error->ErrText : natsStatus_GetText(error->Err));
    if (error->ErrCode != 0) why += " [JetStream error " + std::to_string(static_cast<int>(error->ErrCode)) + "]";
    route.ledger->refused(route.generation, *commit, std::move(why));
  }
}

}  // namespace deltastream::jetstream
