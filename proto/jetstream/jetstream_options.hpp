#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "proto/control_client.hpp"

namespace deltastream::jetstream {

// How to reach NATS: servers, credentials, TLS.
struct nats_settings {
  std::vector<std::string> servers{"nats://127.0.0.1:4222"};
  std::string user;
  std::string password;
  std::string credentials_file;  // a .creds file (JWT and NKey seed)
  bool tls = false;
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
};

// The JetStream stream the changes go into, and how it is made when it does not exist.
struct jetstream_settings {
  std::string name = "DELTASTREAM";
  std::vector<std::string> subjects;  // default: <prefix>.>
  int replicas = 1;
  bool create = true;
  std::chrono::seconds duplicate_window{120};
  std::int64_t max_messages = -1;  // -1: no limit (JetStream's)
  std::int64_t max_bytes = -1;
};

// deltastream-jetstream's command line (--help lists it; the README shows it).
struct jetstream_options {
  std::vector<std::string> follow;  // stream names, delta_... (a bare v2 name means delta_v2_<name>)
  std::string subject_prefix = "deltastream";
  nats_settings nats;
  jetstream_settings stream;
  int max_in_flight = 4096;  // asynchronous publishes awaiting JetStream's acknowledgement
  std::chrono::milliseconds ack_timeout{5'000};
  std::string consumer = "deltastream-jetstream";
  proto::reader_endpoints reader;
  std::string log_level = "info";
};

// Throws config_error naming the flag that is wrong; --help prints and exits.
jetstream_options parse_jetstream_options(int argc, char** argv);

}  // namespace deltastream::jetstream
