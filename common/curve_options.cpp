#include "common/curve_options.hpp"

#include <iostream>

#include <CLI/CLI.hpp>

#include "common/errors.hpp"

namespace deltastream {

namespace {

template <typename Load>
auto with_flag(const char* flag, Load load) {
  try {
    return load();
  } catch (const config_error& error) {
    throw config_error(std::string(flag) + ": " + error.what());
  }
}

// Runs while the flags are parsed, like --version: writes the files, prints where they
// went and ends the program through CLI11's Success.
void generate_keys(const std::string& prefix) {
  const auto keys = with_flag("--generate-curve-keys", [] { return generate_curve_keypair(); });
  with_flag("--generate-curve-keys", [&] {
    write_curve_keypair(prefix, keys);
    return 0;
  });
  std::cout << "wrote " << prefix << ".key_secret: the keypair (secret, mode 0600), for this "
            << "program's --curve-secret-key\n"
            << "wrote " << prefix << ".key: its public key, for the peers: " << keys.public_key
            << "\n";
  throw CLI::Success();
}

}  // namespace

void add_curve_options(CLI::App& app, curve_settings& settings, curve_role role) {
  if (role == curve_role::server) {
    app.add_option("--curve-secret-key", settings.secret_key_file,
                   "CURVE keypair file of the reader: encrypts both ZeroMQ sockets and lets in "
                   "only --curve-authorized-keys (default: no CURVE)")
        ->envname("DELTASTREAM_CURVE_SECRET_KEY")
        ->type_name("FILE");
    app.add_option("--curve-authorized-keys", settings.authorized_keys_path,
                   "Public keys of the gateways and tools allowed to connect: a file of "
                   "public-key lines, or a directory of such files")
        ->envname("DELTASTREAM_CURVE_AUTHORIZED_KEYS")
        ->type_name("FILE-or-DIR");
    app.add_option_function<std::string>(
           "--generate-curve-keys", generate_keys,
           "Write a new CURVE keypair to PREFIX.key_secret (mode 0600) and its public key "
           "to PREFIX.key, then exit")
        ->type_name("PREFIX");
  } else {
    app.add_option("--curve-secret-key", settings.secret_key_file,
                   "CURVE keypair file of this gateway (its public key must be in the "
                   "reader's --curve-authorized-keys; default: no CURVE)")
        ->envname("DELTASTREAM_CURVE_SECRET_KEY")
        ->type_name("FILE");
    app.add_option("--curve-server-key", settings.server_key_file,
                   "The reader's CURVE public key file")
        ->envname("DELTASTREAM_CURVE_SERVER_KEY")
        ->type_name("FILE");
  }
}

void load_curve_settings(curve_settings& settings, curve_role role) {
  const char* other_flag =
      role == curve_role::server ? "--curve-authorized-keys" : "--curve-server-key";
  const std::string& other_file =
      role == curve_role::server ? settings.authorized_keys_path : settings.server_key_file;
  if (settings.secret_key_file.empty() != other_file.empty()) {
    throw config_error(std::string("--curve-secret-key and ") + other_flag +
                       " go together: give both for CURVE, or neither");
  }
  if (settings.secret_key_file.empty()) return;
  settings.keypair =
      with_flag("--curve-secret-key", [&] { return load_curve_keypair(settings.secret_key_file); });
  if (role == curve_role::server) {
    settings.authorized_keys = with_flag(
        other_flag, [&] { return load_curve_authorized_keys(settings.authorized_keys_path); });
  } else {
    settings.server_key =
        with_flag(other_flag, [&] { return load_curve_public_key(settings.server_key_file); });
  }
}

}  // namespace deltastream
