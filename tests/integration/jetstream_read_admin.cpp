#include "tests/integration/jetstream_read_admin.hpp"

#include <memory>
#include <string>
#include <vector>

#include "common/json_writer.hpp"

namespace deltastream::jetstream_read {

namespace {

struct stream_info_deleter {
  void operator()(jsStreamInfo* info) const { jsStreamInfo_Destroy(info); }
};
using stream_info_ptr = std::unique_ptr<jsStreamInfo, stream_info_deleter>;

struct msg_deleter {
  void operator()(natsMsg* msg) const { natsMsg_Destroy(msg); }
};
using msg_ptr = std::unique_ptr<natsMsg, msg_deleter>;

std::string info_line(const jsStreamInfo& info) {
  std::string subjects = "[";
  if (info.Config != nullptr) {
    for (int i = 0; i < info.Config->SubjectsLen; ++i) {
      if (i > 0) subjects += ',';
      append_json_string(subjects, info.Config->Subjects[i]);
    }
  }
  subjects += ']';
  const char* leader = info.Cluster != nullptr && info.Cluster->Leader != nullptr ? info.Cluster->Leader : "";
  return json_object{}
      .add("messages", info.State.Msgs)
      .add("bytes", info.State.Bytes)
      .add("first_seq", info.State.FirstSeq)
      .add("last_seq", info.State.LastSeq)
      .add("replicas", static_cast<std::int64_t>(info.Config != nullptr ? info.Config->Replicas : 0))
      .add("leader", leader)
      .raw("subjects", subjects)
      .str();
}

[[noreturn]] void fail(const std::string& stream, std::string_view doing, const nats_failure& failure) {
  if (failure.code == JSStreamNotFoundErr) {
    throw tool_error(tool_exit::no_stream, "stream " + stream + " does not exist");
  }
  throw tool_error(tool_exit::rejected, std::string(doing) + ": " + failure.text);
}

}  // namespace

void write_line(std::FILE* out, const std::string& line) {
  if (std::fwrite(line.data(), 1, line.size(), out) != line.size() || std::fputc('\n', out) == EOF ||
      std::fflush(out) != 0) {
    throw tool_error(tool_exit::failure, "writing to stdout failed");
  }
}

namespace {

stream_info_ptr stream_info(nats_session& session, error_budget& budget, const std::string& stream) {
  jsStreamInfo* raw = nullptr;
  const auto failure = retry_transient(budget, "stream info", [&](jsErrCode* code) {
    jsStreamInfo_Destroy(raw);
    raw = nullptr;
    return js_GetStreamInfo(&raw, session.js(), stream.c_str(), nullptr, code);
  });
  stream_info_ptr info(raw);
  if (failure) fail(stream, "stream info", *failure);
  return info;
}

}  // namespace

void print_stream_info(nats_session& session, error_budget& budget, const std::string& stream, std::FILE* out) {
  write_line(out, info_line(*stream_info(session, budget, stream)));
}

void update_max_msgs(nats_session& session, error_budget& budget, const std::string& stream,
                     std::int64_t max_msgs, std::FILE* out) {
  const auto current = stream_info(session, budget, stream);
  current->Config->MaxMsgs = max_msgs;  // the rest as it is: an update replaces the whole config
  jsStreamInfo* raw = nullptr;
  const auto failure = retry_transient(budget, "update stream", [&](jsErrCode* code) {
    jsStreamInfo_Destroy(raw);
    raw = nullptr;
    return js_UpdateStream(&raw, session.js(), current->Config, nullptr, code);
  });
  stream_info_ptr updated(raw);
  if (failure) fail(stream, "update stream", *failure);
  write_line(out, info_line(*updated));
}

void create_stream(nats_session& session, error_budget& budget, const std::string& stream,
                   const create_options& options, std::FILE* out) {
  std::vector<const char*> subjects;
  for (const auto& subject : options.subjects) subjects.push_back(subject.c_str());
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.c_str();
  config.Subjects = subjects.data();
  config.SubjectsLen = static_cast<int>(subjects.size());
  config.Storage = js_FileStorage;
  config.Replicas = options.replicas;
  config.MaxMsgs = options.max_msgs;
  config.Discard = options.discard == discard_mode::new_messages ? js_DiscardNew : js_DiscardOld;
  jsStreamInfo* raw = nullptr;
  // A retry after a lost answer finds the stream made: the same config is success.
  const auto failure = retry_transient(budget, "create stream", [&](jsErrCode* code) {
    jsStreamInfo_Destroy(raw);
    raw = nullptr;
    return js_AddStream(&raw, session.js(), &config, nullptr, code);
  });
  stream_info_ptr info(raw);
  if (failure) throw tool_error(tool_exit::rejected, "create stream " + stream + ": " + failure->text);
  write_line(out, info_line(*info));
}

void publish_messages(nats_session& session, error_budget& budget, const std::string& stream,
                      const publish_options& options, std::FILE* out) {
  for (std::uint64_t i = options.first; i < options.first + options.count; ++i) {
    const std::string id = options.msg_id_prefix + std::to_string(i);
    const std::string& data = options.data ? *options.data : id;
    jsPubAck* ack = nullptr;
    const auto failure = retry_transient(budget, "publish " + id, [&](jsErrCode* code) {
      // A new message each attempt: nats.c's request machinery fills in the reply subject.
      natsMsg* raw = nullptr;
      natsStatus status = natsMsg_Create(&raw, options.subject.c_str(), nullptr, data.data(),
                                         static_cast<int>(data.size()));
      msg_ptr msg(raw);
      if (status == NATS_OK) status = natsMsgHeader_Set(msg.get(), "Nats-Msg-Id", id.c_str());
      for (const auto& [name, value] : options.headers) {
        if (status == NATS_OK) status = natsMsgHeader_Add(msg.get(), name.c_str(), value.c_str());
      }
      if (status == NATS_OK) status = js_PublishMsg(&ack, session.js(), msg.get(), nullptr, code);
      return status;
    });
    if (failure) fail(stream, "publish " + id, *failure);
    if (stream != ack->Stream) {  // the subject belongs to another stream: a test's mistake
      const std::string other = ack->Stream;
      jsPubAck_Destroy(ack);
      throw tool_error(tool_exit::failure, "publish " + id + ": stored in stream " + other + ", not " + stream);
    }
    write_line(out, json_object{}
                        .add("msg_id", id)
                        .add("stream", ack->Stream)
                        .add("seq", ack->Sequence)
                        .add("duplicate", ack->Duplicate)
                        .str());
    jsPubAck_Destroy(ack);
  }
}

}  // namespace deltastream::jetstream_read
