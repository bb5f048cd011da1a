#include "proto/jetstream/nats_connection.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <fmt/ranges.h>

#include "common/backoff.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::jetstream {

namespace {

std::string describe(const std::string& what, natsStatus status, jsErrCode code) {
  std::string text = what + ": " + natsStatus_GetText(status);
  natsStatus last = NATS_OK;
  if (const char* detail = nats_GetLastError(&last); detail && *detail) text += std::string(" (") + detail + ")";
  if (code != 0) text += " [JetStream error " + std::to_string(static_cast<int>(code)) + "]";
  return text;
}

void check(natsStatus status, const std::string& what) {
  if (status != NATS_OK) throw nats_failure(what, status);
}

void on_disconnected(natsConnection*, void* closing) {
  if (static_cast<std::atomic<bool>*>(closing)->load()) return;  // our own close
  module_logger("jetstream")->warn("NATS: disconnected; reconnecting");
}

void on_reconnected(natsConnection* connection, void*) {
  char url[256] = {};
  natsConnection_GetConnectedUrl(connection, url, sizeof url);
  module_logger("jetstream")->info("NATS: reconnected to {}", url);
}

}  // namespace

nats_failure::nats_failure(const std::string& what, natsStatus status, jsErrCode code)
    : std::runtime_error(describe(what, status, code)), status(status), code(code) {}

nats_connection::nats_connection(const nats_settings& settings) {
  check(natsOptions_Create(&options_), "NATS options");
  std::vector<const char*> servers;
  for (const auto& server : settings.servers) servers.push_back(server.c_str());
  check(natsOptions_SetServers(options_, servers.data(), static_cast<int>(servers.size())), "--nats-servers");
  check(natsOptions_SetName(options_, "deltastream-jetstream"), "NATS name");
  if (!settings.user.empty()) {
    check(natsOptions_SetUserInfo(options_, settings.user.c_str(), settings.password.c_str()), "--nats-user");
  }
  if (!settings.credentials_file.empty()) {
    check(natsOptions_SetUserCredentialsFromFiles(options_, settings.credentials_file.c_str(), nullptr),
          "--nats-creds " + settings.credentials_file);
  }
  if (settings.tls) check(natsOptions_SetSecure(options_, true), "--nats-tls");
  if (!settings.tls_ca_file.empty()) {
    check(natsOptions_LoadCATrustedCertificates(options_, settings.tls_ca_file.c_str()),
          "--nats-tls-ca " + settings.tls_ca_file);
  }
  if (!settings.tls_cert_file.empty()) {
    check(natsOptions_LoadCertificatesChain(options_, settings.tls_cert_file.c_str(), settings.tls_key_file.c_str()),
          "--nats-tls-cert " + settings.tls_cert_file);
  }
  // Forever: a cluster that is down for an hour is waited for, not given up on.
  check(natsOptions_SetMaxReconnect(options_, -1), "NATS reconnect");
  check(natsOptions_SetReconnectWait(options_, 500), "NATS reconnect wait");
  check(natsOptions_SetRetryOnFailedConnect(options_, true, nullptr, nullptr), "NATS connect retry");
  check(natsOptions_SetDisconnectedCB(options_, on_disconnected, &closing_), "NATS callback");
  check(natsOptions_SetReconnectedCB(options_, on_reconnected, nullptr), "NATS callback");
  const auto status = natsConnection_Connect(&connection_, options_);
  // Not yet connected: it keeps trying in the background, and publishes wait for it.
  if (status != NATS_OK && status != NATS_NOT_YET_CONNECTED) {
    natsOptions_Destroy(options_);
    throw nats_failure("connecting to NATS", status);
  }
  if (status == NATS_NOT_YET_CONNECTED) module_logger("jetstream")->warn("NATS: no server answers yet; retrying");
}

nats_connection::~nats_connection() {
  closing_ = true;
  natsConnection_Destroy(connection_);
  natsOptions_Destroy(options_);
}

namespace {

// Our settings as a stream configuration; the strings stay owned by `settings`.
struct stream_config {
  explicit stream_config(const jetstream_settings& settings) {
    jsStreamConfig_Init(&config);
    for (const auto& subject : settings.subjects) subjects.push_back(subject.c_str());
    config.Name = settings.name.c_str();
    config.Subjects = subjects.data();
    config.SubjectsLen = static_cast<int>(subjects.size());
    config.Storage = js_FileStorage;
    config.Replicas = settings.replicas;
    config.Duplicates = std::chrono::duration_cast<std::chrono::nanoseconds>(settings.duplicate_window).count();
    config.MaxMsgs = settings.max_messages;
    config.MaxBytes = settings.max_bytes;
    // Refuse what does not fit rather than drop the oldest: a full stream stops the
    // ACKs (the slot keeps the changes) instead of losing stored ones silently.
    config.Discard = js_DiscardNew;
  }
  jsStreamConfig config;
  std::vector<const char*> subjects;
};

}  // namespace

void ensure_stream(nats_connection& connection, const jetstream_settings& settings, const std::atomic<bool>& stop) {
  auto log = module_logger("jetstream");
  backoff delay;
  while (!stop) {
    jsCtx* js = nullptr;
    check(natsConnection_JetStream(&js, connection.get(), nullptr), "JetStream context");
    jsStreamInfo* info = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    auto status = js_GetStreamInfo(&info, js, settings.name.c_str(), nullptr, &code);
    if (status == NATS_OK) {
      log->info("JetStream stream {}: {} replica(s), {} message(s)", settings.name, info->Config->Replicas,
                info->State.Msgs);
      jsStreamInfo_Destroy(info);
      jsCtx_Destroy(js);
      return;
    }
    if (status == NATS_NOT_FOUND || code == JSStreamNotFoundErr) {
      if (!settings.create) {
        jsCtx_Destroy(js);
        throw config_error("JetStream stream " + settings.name + " does not exist (and --js-create is false)");
      }
      stream_config config(settings);
      status = js_AddStream(&info, js, &config.config, nullptr, &code);
      if (status == NATS_OK) {
        log->info("JetStream stream {} created: subjects {}, {} replica(s)", settings.name,
                  fmt::join(settings.subjects, ","), settings.replicas);
        jsStreamInfo_Destroy(info);
        jsCtx_Destroy(js);
        return;
      }
      if (code == JSStreamSubjectOverlapErr) {
        jsCtx_Destroy(js);
        throw config_error("JetStream stream " + settings.name + ": its subjects overlap another stream's (" +
                           nats_failure("create", status, code).what() + ")");
      }
    }
    jsCtx_Destroy(js);
    const auto wait = delay.next();
    log->warn("{}; retrying in {} ms", nats_failure("JetStream stream " + settings.name, status, code).what(),
              wait.count());
    std::this_thread::sleep_for(wait);
  }
}

}  // namespace deltastream::jetstream
