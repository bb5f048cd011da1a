#include "reader/zap_authenticator.hpp"

#include <cerrno>
#include <cstdlib>
#include <future>

#include <zmq_addon.hpp>

#include "common/curve_keys.hpp"
#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::reader {

namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01";
constexpr auto refusal_log_interval = std::chrono::minutes(1);

}  // namespace

zap_answer answer_zap_request(const std::vector<std::string>& request,
                              const std::set<std::string>& authorized_keys) {
  zap_answer answer;
  const std::string request_id = request.size() > 1 ? request[1] : "";
  const auto reply = [&](const char* code, const char* text, std::string user_id = "") {
    answer.reply = {"1.0", request_id, code, text, std::move(user_id), ""};
  };
  if (request.size() < 6 || request[0] != "1.0") {
    reply("500", "malformed ZAP request");
    return answer;
  }
  answer.address = request[3];
  if (request[5] != "CURVE" || request.size() != 7) {
    reply("400", "CURVE only");
    return answer;
  }
  answer.client_key = z85_of_key(request[6]);
  if (answer.client_key.empty() || !authorized_keys.contains(answer.client_key)) {
    reply("400", "public key not authorized");
    return answer;
  }
  answer.accepted = true;
  reply("200", "OK", answer.client_key);
  return answer;
}

zap_authenticator::zap_authenticator(zmq::context_t& context,
                                     const std::vector<std::string>& authorized_keys)
    : authorized_(authorized_keys.begin(), authorized_keys.end()) {
  std::promise<void> bound;
  auto ready = bound.get_future();
  thread_ = std::thread([this, &context, bound = std::move(bound)]() mutable {
    zmq::socket_t socket(context, zmq::socket_type::rep);
    try {
      socket.set(zmq::sockopt::linger, 0);
      socket.bind(zap_endpoint);
    } catch (const zmq::error_t& error) {
      bound.set_exception(std::make_exception_ptr(config_error(
          std::string("CURVE: cannot bind the ZAP handler at ") + zap_endpoint + ": " +
          error.what())));
      return;
    }
    bound.set_value();
    run(socket);
  });
  try {
    ready.get();
  } catch (...) {
    thread_.join();
    throw;
  }
  module_logger("zap")->info("CURVE on: {} authorized client key(s)", authorized_.size());
}

zap_authenticator::~zap_authenticator() {
  stopping_ = true;
  thread_.join();
}

void zap_authenticator::run(zmq::socket_t& socket) {
  while (!stopping_) {
    try {
      serve(socket);
    } catch (const zmq::error_t& error) {
      if (error.num() == EINTR) continue;
      fail(error.what());
    } catch (const std::exception& error) {
      fail(error.what());
    }
  }
}

void zap_authenticator::fail(const char* what) {
  // With no handler, a libzmq without ZMQ_ZAP_ENFORCE_DOMAIN would let any CURVE client
  // in: stop instead (systemd restarts the reader).
  module_logger("zap")->critical("the ZAP handler failed ({}): stopping, so that no client "
                                 "gets in unchecked", what);
  std::abort();
}

void zap_authenticator::serve(zmq::socket_t& socket) {
  // A short timeout: the destructor's stop flag is seen within it.
  zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) return;
  std::vector<zmq::message_t> frames;
  if (!zmq::recv_multipart(socket, std::back_inserter(frames), zmq::recv_flags::dontwait)) return;
  std::vector<std::string> request;
  for (const auto& frame : frames) request.push_back(frame.to_string());
  const auto answer = answer_zap_request(request, authorized_);
  log(answer);
  std::vector<zmq::const_buffer> reply;
  for (const auto& frame : answer.reply) reply.push_back(zmq::buffer(frame));
  zmq::send_multipart(socket, reply);
}

void zap_authenticator::log(const zap_answer& answer) {
  auto log = module_logger("zap");
  if (answer.accepted) {
    log->debug("CURVE client {} from {} let in", answer.client_key, answer.address);
    return;
  }
  if (answer.client_key.empty()) {
    log->warn("refused a client from {}: {}", answer.address, answer.reply[3]);
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  if (refusals_.size() > 10'000) refusals_.clear();  // a client trying key after key
  auto [entry, first] = refusals_.try_emplace(answer.client_key);
  if (!first && now - entry->second.logged < refusal_log_interval) {
    ++entry->second.unlogged;
    return;
  }
  log->warn("refused a CURVE client from {}: public key {} is not in --curve-authorized-keys{}",
            answer.address, answer.client_key,
            entry->second.unlogged
                ? " (" + std::to_string(entry->second.unlogged) + " more attempts since last logged)"
                : std::string());
  entry->second = {now, 0};
}

}  // namespace deltastream::reader
