// CURVE key files: the text parser is pure; loading, writing and the flag pairing go
// through a temporary directory (the one place the unit tests touch files: the errors
// for a missing or unreadable file need real files).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/curve_keys.hpp"
#include "common/curve_options.hpp"
#include "common/errors.hpp"
#include "reader/zap_authenticator.hpp"

namespace fs = std::filesystem;
using namespace deltastream;

namespace {

// A pair made by zmq_curve_keypair (pyzmq's zmq.curve_keypair() gives the same kind).
const std::string public_a = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
const std::string secret_a = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::random_device random;
    path = fs::temp_directory_path() / ("curve-test-" + std::to_string(random()));
    fs::create_directory(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return (path / name).string();
  }
};

std::string error_of(const auto& call) {
  try {
    call();
  } catch (const config_error& error) {
    return error.what();
  }
  return "(no error)";
}

// The error `f` throws, read by a process that cannot read everything: root reads any
// file, and the suite runs as root, so then a child process does it as nobody.
template <class F>
std::string error_as_nobody(F f) {
  if (geteuid() != 0) return error_of(f);
  int pipe_fds[2];
  REQUIRE(pipe(pipe_fds) == 0);
  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    close(pipe_fds[0]);
    std::string error = "could not become nobody";
    if (setgid(65534) == 0 && setuid(65534) == 0) error = error_of(f);
    (void)!write(pipe_fds[1], error.data(), error.size());
    _exit(0);
  }
  close(pipe_fds[1]);
  std::string error;
  char buffer[512];
  for (ssize_t got; (got = read(pipe_fds[0], buffer, sizeof buffer)) > 0;) error.append(buffer, got);
  close(pipe_fds[0]);
  waitpid(child, nullptr, 0);
  return error;
}

}  // namespace

TEST_CASE("key files: pyzmq/czmq certificates, quotes optional, other lines ignored") {
  const auto keys = parse_curve_key_file(
      "#   ****  Generated on 2024-01-01 by pyzmq  ****\r\n"
      "#   ZeroMQ CURVE **Secret** Certificate\n"
      "\n"
      "metadata\n"
      "curve\n"
      "    public-key = \"" + public_a + "\"\n"
      "    secret-key = \"" + secret_a + "\"\r\n",
      "a.key_secret");
  CHECK(keys.public_keys == std::vector{public_a});
  CHECK(keys.secret_keys == std::vector{secret_a});

  const auto bare = parse_curve_key_file("public-key=" + public_a + "\npublic-key = '" +
                                             secret_a + "'\nsecret-keys = x\n",
                                         "b.key");
  CHECK(bare.public_keys == std::vector{public_a, secret_a});
  CHECK(bare.secret_keys.empty());
  // '#' and '=' are Z85 characters: only a line that starts with '#' is a comment.
  CHECK(parse_curve_key_file("# public-key = " + public_a, "c").public_keys.empty());
}

TEST_CASE("key files: wrong length or not Z85 names the file, the line and the problem") {
  CHECK(error_of([] { parse_curve_key_file("\npublic-key = abc\n", "/etc/x.key"); }) ==
        "/etc/x.key line 2: public-key is 3 characters long; a Z85 CURVE key is 40");
  CHECK(error_of([] { parse_curve_key_file("secret-key = \"" + secret_a + "x\"", "k"); }) ==
        "k line 1: secret-key is 41 characters long; a Z85 CURVE key is 40");
  std::string tilde = public_a;
  tilde[7] = '~';
  CHECK(error_of([&] { parse_curve_key_file("public-key = " + tilde, "k"); }) ==
        "k line 1: public-key is not Z85 (the character '~' is not in its alphabet)");
  // Every character in the alphabet, but "#####" is 85^5 - 1, over 32 bits.
  CHECK(error_of([] { parse_curve_key_file("public-key = " + std::string(40, '#'), "k"); }) ==
        "k line 1: public-key is not a valid Z85 key");
}

TEST_CASE("keypair files: the public key comes from the secret, and must match it") {
  temp_dir dir;
  const auto pair = load_curve_keypair(dir.write("a", "secret-key = " + secret_a + "\n"));
  CHECK(pair.public_key == public_a);
  CHECK(pair.secret_key == secret_a);

  const auto other = generate_curve_keypair();
  const auto mismatched = dir.write("b", "public-key = " + other.public_key + "\nsecret-key = " +
                                             secret_a + "\n");
  CHECK(error_of([&] { load_curve_keypair(mismatched); }) ==
        mismatched + ": its public-key is not the public key of its secret-key");
  const auto public_only = dir.write("c", "public-key = " + public_a + "\n");
  CHECK(error_of([&] { load_curve_keypair(public_only); }).starts_with(public_only + ": no secret-key line"));
  const auto two = dir.write("d", "secret-key = " + secret_a + "\nsecret-key = " +
                                      other.secret_key + "\n");
  CHECK(error_of([&] { load_curve_keypair(two); }).starts_with(two + ": more than one key"));
}

TEST_CASE("missing, unreadable, a directory, empty") {
  temp_dir dir;
  const auto missing = (dir.path / "nope.key").string();
  CHECK(error_of([&] { load_curve_keypair(missing); }) == missing + ": no such file");
  CHECK(error_of([&] { load_curve_public_key(missing); }) == missing + ": no such file");
  CHECK(error_of([&] { load_curve_authorized_keys(missing); }) == missing + ": no such file");
  CHECK(error_of([&] { load_curve_keypair(dir.path.string()); }) ==
        dir.path.string() + ": a directory, not a key file");
  const auto empty = dir.write("empty.key", "");
  CHECK(error_of([&] { load_curve_public_key(empty); }) == empty + ": no public-key line");
  const auto locked = dir.write("locked.key", "public-key = " + public_a + "\n");
  chmod(locked.c_str(), 0);
  chmod(dir.path.c_str(), 0755);
  CHECK(error_as_nobody([&] { load_curve_public_key(locked); }) == locked + ": cannot read: Permission denied");
}

TEST_CASE("authorized keys: a file of public-key lines, or a directory of key files") {
  temp_dir dir;
  const auto b = generate_curve_keypair();
  const auto file = dir.write("clients", "# two gateways\npublic-key = " + public_a +
                                             "\npublic-key = " + b.public_key + "\n");
  CHECK(load_curve_authorized_keys(file) == std::vector{public_a, b.public_key});

  fs::create_directory(dir.path / "keys");
  dir.write("keys/b.key", "public-key = \"" + b.public_key + "\"\n");
  dir.write("keys/a.key", "public-key = \"" + public_a + "\"\n");
  // A keypair file and an editor's leftovers are skipped.
  dir.write("keys/c.key_secret", "secret-key = garbage\n");
  dir.write("keys/.a.key.swp", "garbage\n");
  const auto keys_dir = (dir.path / "keys").string();
  CHECK(load_curve_authorized_keys(keys_dir) == std::vector{public_a, b.public_key});
  const auto readme = dir.write("keys/README", "put the gateways' keys here\n");
  CHECK(error_of([&] { load_curve_authorized_keys(keys_dir); }) == readme + ": no public-key line");

  fs::create_directory(dir.path / "none");
  const auto none = (dir.path / "none").string();
  CHECK(error_of([&] { load_curve_authorized_keys(none); }) ==
        none + ": no key files in this directory");
}

TEST_CASE("write_curve_keypair: PREFIX.key_secret 0600 and PREFIX.key, never overwritten") {
  temp_dir dir;
  const auto prefix = (dir.path / "reader").string();
  const auto keys = generate_curve_keypair();
  write_curve_keypair(prefix, keys);
  struct stat secret {};
  REQUIRE(stat((prefix + ".key_secret").c_str(), &secret) == 0);
  CHECK((secret.st_mode & 0777) == 0600);
  const auto loaded = load_curve_keypair(prefix + ".key_secret");
  CHECK(loaded.public_key == keys.public_key);
  CHECK(loaded.secret_key == keys.secret_key);
  CHECK(load_curve_public_key(prefix + ".key") == keys.public_key);
  CHECK(load_curve_authorized_keys(dir.path.string()) == std::vector{keys.public_key});

  CHECK(error_of([&] { write_curve_keypair(prefix, generate_curve_keypair()); }) ==
        prefix + ".key: cannot create: File exists");
  CHECK(load_curve_keypair(prefix + ".key_secret").secret_key == keys.secret_key);
}

TEST_CASE("load_curve_settings: both files or neither; errors name the flag") {
  temp_dir dir;
  write_curve_keypair((dir.path / "reader").string(), generate_curve_keypair());
  const auto secret = (dir.path / "reader.key_secret").string();
  const auto public_key = (dir.path / "reader.key").string();

  curve_settings off;
  load_curve_settings(off, curve_role::server);
  CHECK_FALSE(off.enabled());

  curve_settings half;
  half.secret_key_file = secret;
  CHECK(error_of([&] { load_curve_settings(half, curve_role::server); }) ==
        "--curve-secret-key and --curve-authorized-keys go together: give both for CURVE, or "
        "neither");
  CHECK(error_of([&] { load_curve_settings(half, curve_role::client); }) ==
        "--curve-secret-key and --curve-server-key go together: give both for CURVE, or neither");

  curve_settings server;
  server.secret_key_file = secret;
  server.authorized_keys_path = public_key;
  load_curve_settings(server, curve_role::server);
  CHECK(server.enabled());
  CHECK(server.authorized_keys.size() == 1);

  curve_settings client;
  client.secret_key_file = public_key;  // the public file by mistake
  client.server_key_file = public_key;
  CHECK(error_of([&] { load_curve_settings(client, curve_role::client); })
            .starts_with("--curve-secret-key: " + public_key + ": no secret-key line"));
  client.secret_key_file = secret;
  client.server_key_file = (dir.path / "missing.key").string();
  CHECK(error_of([&] { load_curve_settings(client, curve_role::client); }) ==
        "--curve-server-key: " + client.server_key_file + ": no such file");
}

TEST_CASE("local endpoints: loopback, ipc and inproc; anything else crosses a network") {
  for (const char* local : {"tcp://127.0.0.1:5590", "tcp://127.0.0.53:1", "tcp://localhost:5590",
                            "tcp://[::1]:5590", "ipc:///run/x", "inproc://x",
                            "tcp://10.0.0.1:0;127.0.0.1:5590"}) {
    CAPTURE(local);
    CHECK(is_local_endpoint(local));
  }
  for (const char* remote : {"tcp://0.0.0.0:5590", "tcp://*:5590", "tcp://10.1.2.3:5590",
                             "tcp://reader:5591", "tcp://[::]:5590", "tcp://eth0:5590",
                             "pgm://x", ""}) {
    CAPTURE(remote);
    CHECK_FALSE(is_local_endpoint(remote));
  }
}

TEST_CASE("ZAP: authorized CURVE keys in, every other request refused") {
  const std::set<std::string> authorized{public_a};
  std::string binary(32, '\0');
  REQUIRE(zmq_z85_decode(reinterpret_cast<std::uint8_t*>(binary.data()), public_a.c_str()));
  const auto request = [](std::string mechanism, std::vector<std::string> credentials) {
    std::vector<std::string> frames{"1.0", "7", "deltastream", "10.0.0.9", "", mechanism};
    frames.insert(frames.end(), credentials.begin(), credentials.end());
    return frames;
  };

  const auto in = reader::answer_zap_request(request("CURVE", {binary}), authorized);
  CHECK(in.accepted);
  CHECK(in.reply == std::vector<std::string>{"1.0", "7", "200", "OK", public_a, ""});

  std::string other = binary;
  other[0] ^= 1;
  const auto out = reader::answer_zap_request(request("CURVE", {other}), authorized);
  CHECK_FALSE(out.accepted);
  CHECK(out.reply[2] == "400");
  CHECK(out.client_key == z85_of_key(other));
  CHECK(out.address == "10.0.0.9");

  CHECK(reader::answer_zap_request(request("NULL", {}), authorized).reply[2] == "400");
  CHECK(reader::answer_zap_request(request("CURVE", {"short"}), authorized).reply[2] == "400");
  const auto malformed = reader::answer_zap_request({"2.0", "8", "d", "a", "i", "CURVE"}, authorized);
  CHECK(malformed.reply == std::vector<std::string>{"1.0", "8", "500", "malformed ZAP request", "", ""});
  CHECK(reader::answer_zap_request({}, authorized).reply ==
        std::vector<std::string>{"1.0", "", "500", "malformed ZAP request", "", ""});
}
