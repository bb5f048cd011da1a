#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <zmq.hpp>

namespace deltastream {

// CURVE (ZeroMQ's own encryption and authentication, RFC 26) for the hop between the
// reader and its gateways and tools. Keys are Z85 text: 40 characters for 32 bytes.
//
// Key files are text, one setting a line, the format of pyzmq's
// zmq.auth.create_certificates and of czmq's certificates, so their files load as they are:
//
//   # a comment
//   public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
//   secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
//
// Blank lines, `#` comments and any other line (their `metadata`, `curve`) are ignored;
// the quotes are optional. A keypair file has one secret-key line (and may have the
// matching public-key line); a public key file has a public-key line.
// `deltastream-reader --generate-curve-keys PREFIX` writes PREFIX.key_secret (keypair,
// mode 0600) and PREFIX.key (public key), the names zmq.auth uses.

enum class curve_role { server, client };

struct curve_keypair {
  std::string public_key;  // Z85
  std::string secret_key;  // Z85
};

struct curve_settings {
  // File names, from the flags (common/curve_options.hpp); empty when not given.
  // load_curve_settings fills the rest.
  std::string secret_key_file;       // this program's keypair
  std::string authorized_keys_path;  // server: a file, or a directory of files
  std::string server_key_file;       // client: the server's public key

  // No keypair means CURVE is off.
  std::optional<curve_keypair> keypair;
  std::vector<std::string> authorized_keys;  // server: Z85 public keys allowed in
  std::string server_key;                    // client: the server's Z85 public key

  bool enabled() const { return keypair.has_value(); }
};

// The keys a file's text holds. Throws config_error "<path> line N: <problem>" on a key
// of the wrong length or not in Z85.
struct curve_key_file {
  std::vector<std::string> public_keys;
  std::vector<std::string> secret_keys;
};
curve_key_file parse_curve_key_file(std::string_view text, const std::string& path);

// Each throws config_error naming the file and the problem: missing, unreadable, no key,
// more than one, wrong length, not Z85, a public key that is not the secret key's.
curve_keypair load_curve_keypair(const std::string& path);
std::string load_curve_public_key(const std::string& path);
// A file (every public-key line in it), or a directory: every file in it except hidden
// ones and *_secret (keypair files), each with at least one public-key line.
std::vector<std::string> load_curve_authorized_keys(const std::string& path);

curve_keypair generate_curve_keypair();
// Writes PREFIX.key_secret (mode 0600) and PREFIX.key; refuses to overwrite either.
void write_curve_keypair(const std::string& prefix, const curve_keypair& keys);

// Socket options; call before bind/connect.
void make_curve_server(zmq::socket_t& socket, const curve_keypair& keys);
void make_curve_client(zmq::socket_t& socket, const curve_keypair& keys,
                       const std::string& server_key);

// The Z85 text of a 32-byte binary key (as ZAP passes it), "" for another size.
std::string z85_of_key(std::string_view binary);

// tcp:// to 127.0.0.0/8, ::1 or localhost: only this machine can reach it. ipc:// and
// inproc:// are local too; any other tcp:// address crosses a network.
bool is_local_endpoint(std::string_view endpoint);

}  // namespace deltastream
