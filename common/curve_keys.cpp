#include "common/curve_keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <zmq.h>

#include "common/errors.hpp"

namespace deltastream {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t z85_key_size = 40;  // 32 bytes, 5 characters for every 4
constexpr std::size_t max_key_file_bytes = 64 * 1024;
constexpr std::string_view z85_alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// "public-key = value" → value (quotes removed); nullopt when the line is not `name = …`.
std::optional<std::string_view> value_of(std::string_view line, std::string_view name) {
  if (line.substr(0, name.size()) != name) return std::nullopt;
  auto rest = trim(line.substr(name.size()));
  if (rest.empty() || rest.front() != '=') return std::nullopt;
  auto value = trim(rest.substr(1));
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return value;
}

std::string checked_key(std::string_view value, std::string_view name, const std::string& where) {
  if (value.size() != z85_key_size) {
    throw config_error(where + ": " + std::string(name) + " is " + std::to_string(value.size()) +
                       " characters long; a Z85 CURVE key is 40");
  }
  for (char c : value) {
    if (z85_alphabet.find(c) == std::string_view::npos) {
      throw config_error(where + ": " + std::string(name) + " is not Z85 (the character '" +
                         std::string(1, c) + "' is not in its alphabet)");
    }
  }
  std::string key(value);
  std::uint8_t binary[32];
  if (!zmq_z85_decode(binary, key.c_str())) {
    throw config_error(where + ": " + std::string(name) + " is not a valid Z85 key");
  }
  return key;
}

std::string read_key_file(const std::string& path) {
  std::error_code error;
  const auto status = fs::status(path, error);
  if (error) {
    throw config_error(path + ": " +
                       (status.type() == fs::file_type::not_found ? "no such file"
                                                                  : error.message()));
  }
  if (fs::is_directory(status)) throw config_error(path + ": a directory, not a key file");
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) throw config_error(path + ": cannot read: " + std::strerror(errno));
  std::string text(max_key_file_bytes + 1, '\0');
  const std::size_t size = std::fread(text.data(), 1, text.size(), file);
  const bool failed = std::ferror(file);
  const int read_errno = errno;
  std::fclose(file);
  if (failed) throw config_error(path + ": cannot read: " + std::strerror(read_errno));
  if (size > max_key_file_bytes) throw config_error(path + ": too large for a key file");
  text.resize(size);
  return text;
}

std::string public_key_of(const std::string& secret_key) {
  char public_key[z85_key_size + 1];
  if (zmq_curve_public(public_key, secret_key.c_str()) != 0) {
    throw config_error(std::string("CURVE is not available in this libzmq: ") +
                       zmq_strerror(zmq_errno()));
  }
  return public_key;
}

// Opens a new file for writing with exactly `mode`; never replaces one.
int create_exclusive(const std::string& path, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) throw config_error(path + ": cannot create: " + std::strerror(errno));
  if (::fchmod(fd, mode) != 0) {  // the umask may have taken bits off; put them back
    const int saved = errno;
    ::close(fd);
    throw config_error(path + ": cannot set its mode: " + std::strerror(saved));
  }
  return fd;
}

void write_all(int fd, const std::string& path, const std::string& text) {
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int saved = errno;
  if (::close(fd) != 0 || !ok) throw config_error(path + ": cannot write: " + std::strerror(saved));
}

}  // namespace

curve_key_file parse_curve_key_file(std::string_view text, const std::string& path) {
  curve_key_file keys;
  std::size_t line_number = 0;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const auto line = trim(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line.front() == '#') continue;
    const std::string where = path + " line " + std::to_string(line_number);
    if (auto value = value_of(line, "public-key")) {
      keys.public_keys.push_back(checked_key(*value, "public-key", where));
    } else if (auto secret = value_of(line, "secret-key")) {
      keys.secret_keys.push_back(checked_key(*secret, "secret-key", where));
    }
  }
  return keys;
}

curve_keypair load_curve_keypair(const std::string& path) {
  const auto keys = parse_curve_key_file(read_key_file(path), path);
  if (keys.secret_keys.empty()) {
    throw config_error(path + ": no secret-key line (a keypair file, PREFIX.key_secret from "
                       "--generate-curve-keys, holds one)");
  }
  if (keys.secret_keys.size() > 1 || keys.public_keys.size() > 1) {
    throw config_error(path + ": more than one key of a kind; a keypair file holds one keypair");
  }
  curve_keypair pair{public_key_of(keys.secret_keys.front()), keys.secret_keys.front()};
  if (!keys.public_keys.empty() && keys.public_keys.front() != pair.public_key) {
    throw config_error(path + ": its public-key is not the public key of its secret-key");
  }
  return pair;
}

std::string load_curve_public_key(const std::string& path) {
  const auto keys = parse_curve_key_file(read_key_file(path), path);
  if (keys.public_keys.empty()) throw config_error(path + ": no public-key line");
  if (keys.public_keys.size() > 1) throw config_error(path + ": more than one public-key line");
  return keys.public_keys.front();
}

std::vector<std::string> load_curve_authorized_keys(const std::string& path) {
  std::error_code error;
  if (!fs::is_directory(path, error)) {
    auto keys = parse_curve_key_file(read_key_file(path), path).public_keys;
    if (keys.empty()) throw config_error(path + ": no public-key line");
    return keys;
  }
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(path, error)) {
    const auto name = entry.path().filename().string();
    if (name.front() == '.' || name.ends_with("_secret")) continue;
    files.push_back(entry.path().string());
  }
  if (error) throw config_error(path + ": cannot list: " + error.message());
  std::sort(files.begin(), files.end());  // a stable order for the log and the errors
  std::vector<std::string> keys;
  for (const auto& file : files) {
    auto found = parse_curve_key_file(read_key_file(file), file).public_keys;
    if (found.empty()) throw config_error(file + ": no public-key line");
    keys.insert(keys.end(), found.begin(), found.end());
  }
  if (keys.empty()) throw config_error(path + ": no key files in this directory");
  return keys;
}

curve_keypair generate_curve_keypair() {
  char public_key[z85_key_size + 1];
  char secret_key[z85_key_size + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    throw config_error(std::string("CURVE is not available in this libzmq: ") +
                       zmq_strerror(zmq_errno()));
  }
  return {public_key, secret_key};
}

void write_curve_keypair(const std::string& prefix, const curve_keypair& keys) {
  const std::string public_path = prefix + ".key";
  const std::string secret_path = prefix + ".key_secret";
  const int public_fd = create_exclusive(public_path, 0644);
  int secret_fd = -1;
  try {
    secret_fd = create_exclusive(secret_path, 0600);
  } catch (const config_error&) {
    ::close(public_fd);
    ::unlink(public_path.c_str());
    throw;
  }
  write_all(public_fd, public_path,
            "# deltastream CURVE public key: give it to the peers (a gateway's to the reader's\n"
            "# --curve-authorized-keys, the reader's to the gateways' --curve-server-key).\n"
            "public-key = \"" + keys.public_key + "\"\n");
  write_all(secret_fd, secret_path,
            "# deltastream CURVE keypair: SECRET, for this program's --curve-secret-key only.\n"
            "# Keep it mode 0600; give away " + public_path + " instead.\n"
            "public-key = \"" + keys.public_key + "\"\n"
            "secret-key = \"" + keys.secret_key + "\"\n");
}

void make_curve_server(zmq::socket_t& socket, const curve_keypair& keys) {
  socket.set(zmq::sockopt::curve_server, 1);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
  // Clients are checked by the ZAP handler (reader/zap_authenticator.hpp); the domain
  // names this service in its requests.
  socket.set(zmq::sockopt::zap_domain, "deltastream");
  // ZMQ_ZAP_ENFORCE_DOMAIN, a draft option (93) that Debian's libzmq 4.3 has: should the
  // ZAP handler be missing, refuse every client instead of letting all in. A libzmq
  // without it refuses the option; the handler's own guard (abort) remains.
  const int enforce = 1;
  (void)zmq_setsockopt(socket.handle(), 93, &enforce, sizeof enforce);
}

void make_curve_client(zmq::socket_t& socket, const curve_keypair& keys,
                       const std::string& server_key) {
  socket.set(zmq::sockopt::curve_serverkey, server_key);
  socket.set(zmq::sockopt::curve_publickey, keys.public_key);
  socket.set(zmq::sockopt::curve_secretkey, keys.secret_key);
}

std::string z85_of_key(std::string_view binary) {
  if (binary.size() != 32) return {};
  char text[z85_key_size + 1];
  zmq_z85_encode(text, reinterpret_cast<const std::uint8_t*>(binary.data()), binary.size());
  return text;
}

bool is_local_endpoint(std::string_view endpoint) {
  if (endpoint.starts_with("ipc://") || endpoint.starts_with("inproc://")) return true;
  if (!endpoint.starts_with("tcp://")) return false;
  auto address = endpoint.substr(6);
  if (const auto source = address.find(';'); source != std::string_view::npos) {
    address = address.substr(source + 1);  // tcp://source;destination
  }
  const auto port = address.rfind(':');
  auto host = address.substr(0, port == std::string_view::npos ? address.size() : port);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

}  // namespace deltastream
