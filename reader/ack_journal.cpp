#include "reader/ack_journal.hpp"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "common/logging.hpp"

namespace deltastream::reader {

namespace {

// First line of the file; then one "<stream> <lsn>" line per stream.
constexpr std::string_view header = "deltastream acknowledged positions v1";
constexpr std::chrono::seconds retry_after_failure{1};

std::string system_error(const std::string& what, const std::filesystem::path& path) {
  return what + " " + path.string() + ": " + std::strerror(errno);
}

// Writes all of `text` to `fd` and makes it durable.
bool write_durably(int fd, const std::string& text) {
  for (std::size_t done = 0; done < text.size();) {
    const auto written = ::write(fd, text.data() + done, text.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0) return false;
    done += static_cast<std::size_t>(written);
  }
  return ::fsync(fd) == 0;
}

std::optional<ack_journal::positions> read_file(const std::filesystem::path& file, std::string& problem) {
  std::ifstream in(file);
  if (!in) {
    if (!std::filesystem::exists(file)) return ack_journal::positions{};
    problem = system_error("cannot read", file);
    return std::nullopt;
  }
  std::string line;
  if (!std::getline(in, line) || line != header) {
    problem = file.string() + " does not start with \"" + std::string(header) + "\"";
    return std::nullopt;
  }
  ack_journal::positions read;
  for (int number = 2; std::getline(in, line); ++number) {
    std::istringstream fields(line);
    std::string stream, position, rest;
    fields >> stream >> position;
    const auto parsed = lsn::parse(position);
    if (stream.empty() || !parsed || (fields >> rest)) {
      problem = file.string() + ":" + std::to_string(number) + ": expected \"<stream> <lsn>\"";
      return std::nullopt;
    }
    read[stream] = *parsed;
  }
  return read;
}

}  // namespace

ack_journal::ack_journal(std::filesystem::path file) : file_(std::move(file)) {
  auto log = module_logger("journal");
  std::string problem;
  if (auto read = read_file(file_, problem)) {
    recorded_ = std::move(*read);
    log->info("acknowledged positions in {}: {} streams", file_.string(), recorded_.size());
  } else {
    log->warn("{}: starting without it (acknowledged changes may be delivered again)", problem);
  }
  wanted_ = durable_ = recorded_;
  // Checked now, not at the first ACK: a journal that cannot be written would hold every
  // stream's flush position back.
  if (!write(recorded_)) throw config_error("--ack-journal: " + system_error("cannot write", file_));
  notice_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (notice_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  writer_ = std::thread([this] { write_loop(); });
}

ack_journal::~ack_journal() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
  ::close(notice_fd_);
}

std::optional<lsn> ack_journal::position(const std::string& stream) const {
  const auto found = recorded_.find(stream);
  if (found == recorded_.end()) return std::nullopt;
  return found->second;
}

void ack_journal::record(const std::string& stream, lsn position) {
  auto& current = recorded_[stream];
  if (position <= current) return;
  current = position;
  publish();
}

void ack_journal::forget(const std::string& stream) {
  if (recorded_.erase(stream) > 0) publish();
}

void ack_journal::publish() {
  {
    std::lock_guard lock(mutex_);
    wanted_ = recorded_;
    ++wanted_version_;
  }
  wake_.notify_one();
}

ack_journal::positions ack_journal::take_durable() {
  std::uint64_t count;
  while (::read(notice_fd_, &count, sizeof count) < 0 && errno == EINTR) {
  }
  std::lock_guard lock(mutex_);
  return durable_;
}

void ack_journal::write_loop() {
  std::unique_lock lock(mutex_);
  bool failing = false;
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || wanted_version_ != written_version_; });
    if (wanted_version_ == written_version_) return;  // stopping, everything written
    auto content = wanted_;
    const auto version = wanted_version_;
    lock.unlock();
    const bool written = write(content);
    lock.lock();
    if (written) {
      if (failing) module_logger("journal")->info("{} is written again", file_.string());
      failing = false;
      durable_ = std::move(content);
      written_version_ = version;
      const std::uint64_t one = 1;
      [[maybe_unused]] const auto ignored = ::write(notice_fd_, &one, sizeof one);
    } else {
      // The streams' flush positions wait meanwhile: PostgreSQL keeps their WAL.
      if (!failing) {
        module_logger("journal")->error("{} (acknowledged positions are not reported to PostgreSQL "
                                        "until it can be written; retrying)", system_error("cannot write", file_));
      }
      failing = true;
      if (stopping_) return;
      wake_.wait_for(lock, retry_after_failure, [this] { return stopping_; });
    }
  }
}

bool ack_journal::write(const positions& content) {
  std::string text(header);
  text.push_back('\n');
  for (const auto& [stream, position] : content) text += stream + " " + position.to_string() + "\n";
  // A new file renamed over the old: a crash at any point leaves one whole file.
  const auto temporary = std::filesystem::path(file_.string() + ".new");
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const bool written = write_durably(fd, text);
  if (::close(fd) != 0 || !written) return false;
  if (::rename(temporary.c_str(), file_.c_str()) != 0) return false;
  // The rename itself is durable once the directory is.
  const auto directory = file_.has_parent_path() ? file_.parent_path() : std::filesystem::path(".");
  const int dir = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0) return false;
  const bool synced = ::fsync(dir) == 0;
  ::close(dir);
  return synced;
}

}  // namespace deltastream::reader
