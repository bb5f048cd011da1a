// The fan-out benchmark's observers: COUNT WebSocket connections to one stream in one
// thread on epoll, each message's latency taken from the send time its row carries (the
// last value of its last "columnvalues", CLOCK_REALTIME ns, as writer.py writes it). In
// C++ because the gateway's capacity is measured past 100,000 deliveries/s, where
// the Python crowd (observers.py) took most of a core of this 2-core machine itself.
//
//   deltastream-bench-crowd HOST PORT PATH COUNT
//
// Prints "ready" once every connection is upgraded. Then reads commands on stdin:
// "mark" forgets the latencies so far and says "marked"; "report" prints one JSON line:
// messages and latency percentiles in ms since the last mark, and every close with its
// reason; "count" prints the messages since the mark and the closes. Exits at end of
// input.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "deltastream-bench-crowd: %s: %s\n", what.c_str(), std::strerror(errno));
  std::exit(1);
}

std::int64_t realtime_ns() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000LL + now.tv_nsec;
}

// The row's send time: the last number of the last "columnvalues":[...,SENT].
std::int64_t sent_ns(std::string_view message) {
  constexpr std::string_view key = "\"columnvalues\":[";
  const auto at = message.rfind(key);
  if (at == std::string_view::npos) return 0;
  const auto end = message.find(']', at);
  const auto comma = message.rfind(',', end);
  if (end == std::string_view::npos || comma == std::string_view::npos || comma < at) return 0;
  return std::strtoll(std::string(message.substr(comma + 1, end - comma - 1)).c_str(), nullptr, 10);
}

void write_all(int fd, const std::string& bytes) {
  // Handshakes and pongs are tiny: a fresh or idle socket's buffer takes them whole.
  if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    fail("send");
  }
}

struct observer {
  int fd = -1;
  bool upgraded = false;
  bool closed = false;
  std::string in;         // bytes not yet parsed
  std::string message;    // fragments of the message being received
};

struct crowd {
  std::vector<observer> observers;
  std::vector<std::int64_t> latencies;
  std::map<std::string, int> closes;
  std::size_t upgraded = 0;

  void closed(observer& o, const std::string& reason) {
    if (o.closed) return;
    o.closed = true;
    ++closes[reason];
    ::close(o.fd);
  }

  // Frames from the server: unmasked; text/continuation, ping and close matter.
  void frames(observer& o) {
    std::size_t pos = 0;
    const auto* data = reinterpret_cast<const std::uint8_t*>(o.in.data());
    while (o.in.size() - pos >= 2) {
      const int opcode = data[pos] & 0x0F;
      const bool fin = data[pos] & 0x80;
      std::uint64_t length = data[pos + 1] & 0x7F;
      std::size_t head = 2;
      if (length == 126) {
        if (o.in.size() - pos < 4) break;
        length = (std::uint64_t{data[pos + 2]} << 8) | data[pos + 3];
        head = 4;
      } else if (length == 127) {
        if (o.in.size() - pos < 10) break;
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | data[pos + 2 + i];
        head = 10;
      }
      if (o.in.size() - pos < head + length) break;
      const std::string_view payload(o.in.data() + pos + head, length);
      pos += head + length;
      if (opcode <= 2) {
        o.message.append(payload);
        if (fin) {
          const auto sent = sent_ns(o.message);
          if (sent) latencies.push_back(realtime_ns() - sent);
          o.message.clear();
        }
      } else if (opcode == 9) {  // a pong with the same payload, masked with a zero key
        std::string pong{static_cast<char>(0x8A), static_cast<char>(0x80 | payload.size())};
        pong.append(4, '\0');
        pong.append(payload);
        write_all(o.fd, pong);
      } else if (opcode == 8) {
        closed(o, payload.size() > 2 ? std::string(payload.substr(2)) : "close");
        return;
      }
    }
    o.in.erase(0, pos);
  }

  void readable(observer& o) {
    char buffer[65536];
    for (;;) {
      const ssize_t got = ::recv(o.fd, buffer, sizeof buffer, MSG_DONTWAIT);
      if (got == 0) return closed(o, "connection lost");
      if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        return closed(o, std::string("connection lost: ") + std::strerror(errno));
      }
      o.in.append(buffer, static_cast<std::size_t>(got));
      if (got < static_cast<ssize_t>(sizeof buffer)) break;
    }
    if (!o.upgraded) {
      const auto end = o.in.find("\r\n\r\n");
      if (end == std::string::npos) return;
      if (o.in.rfind("HTTP/1.1 101", 0) != 0) {
        std::fprintf(stderr, "deltastream-bench-crowd: refused: %s\n", o.in.substr(0, o.in.find('\r')).c_str());
        std::exit(1);
      }
      o.in.erase(0, end + 4);
      o.upgraded = true;
      ++upgraded;
    }
    frames(o);
  }

  void report() {
    std::sort(latencies.begin(), latencies.end());
    auto at = [&](double q) {
      if (latencies.empty()) return -1.0;
      const auto index = std::min(latencies.size() - 1, static_cast<std::size_t>(q * latencies.size()));
      return static_cast<double>(latencies[index]) / 1e6;
    };
    std::string reasons;
    int count = 0;
    for (const auto& [reason, n] : closes) {
      count += n;
      std::string quoted;
      for (char c : reason) {
        if (c == '"' || c == '\\') quoted += '\\';
        if (static_cast<unsigned char>(c) >= 0x20) quoted += c;
      }
      reasons += (reasons.empty() ? "\"" : ",\"") + quoted + "\"";
    }
    std::printf("{\"messages\":%zu,\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
                "\"closes\":%d,\"reasons\":[%s]}\n",
                latencies.size(), at(0.5), at(0.99), at(0.999),
                latencies.empty() ? -1.0 : static_cast<double>(latencies.back()) / 1e6, count,
                reasons.c_str());
    std::fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: deltastream-bench-crowd HOST PORT PATH COUNT\n");
    return 2;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) fail("HOST must be an IPv4 address");
  const std::string request = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: " + argv[1] + ":" +
                              argv[2] +
                              "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                              "Sec-WebSocket-Key: ZGVsdGFzdHJlYW0tY3Jvd2Q=\r\n"
                              "Sec-WebSocket-Version: 13\r\n\r\n";
  const int epoll = epoll_create1(0);
  if (epoll < 0) fail("epoll_create1");
  crowd c;
  c.observers.resize(static_cast<std::size_t>(std::atoi(argv[4])));
  for (std::size_t i = 0; i < c.observers.size(); ++i) {
    auto& o = c.observers[i];
    o.fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (o.fd < 0) fail("socket");
    if (::connect(o.fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) fail("connect");
    const int one = 1;
    setsockopt(o.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    write_all(o.fd, request);
    epoll_event event{EPOLLIN, {.u64 = i}};
    if (epoll_ctl(epoll, EPOLL_CTL_ADD, o.fd, &event) != 0) fail("epoll_ctl");
  }
  epoll_event input{EPOLLIN, {.u64 = UINT64_MAX}};
  if (epoll_ctl(epoll, EPOLL_CTL_ADD, 0, &input) != 0) fail("epoll_ctl stdin");

  bool announced = false;
  std::string commands;
  std::vector<epoll_event> events(1024);
  for (;;) {
    const int ready = epoll_wait(epoll, events.data(), static_cast<int>(events.size()), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      fail("epoll_wait");
    }
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.u64 != UINT64_MAX) {
        auto& o = c.observers[events[i].data.u64];
        if (!o.closed) c.readable(o);
        continue;
      }
      char buffer[256];
      const ssize_t got = ::read(0, buffer, sizeof buffer);
      if (got <= 0) return 0;  // end of input: the benchmark is done with us
      commands.append(buffer, static_cast<std::size_t>(got));
      for (auto end = commands.find('\n'); end != std::string::npos; end = commands.find('\n')) {
        const std::string command = commands.substr(0, end);
        commands.erase(0, end + 1);
        if (command == "mark") {  // answered, so that the step's writes start after it
          c.latencies.clear();
          std::printf("marked\n");
          std::fflush(stdout);
        } else if (command == "report") {
          c.report();
        } else if (command == "count") {  // cheap: for waiting until the last message is in
          std::size_t closed = 0;
          for (const auto& [reason, n] : c.closes) closed += static_cast<std::size_t>(n);
          std::printf("%zu %zu\n", c.latencies.size(), closed);
          std::fflush(stdout);
        }
      }
    }
    if (!announced && c.upgraded == c.observers.size()) {
      announced = true;
      std::printf("ready\n");
      std::fflush(stdout);
    }
  }
}
