#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/lsn.hpp"

namespace deltastream::reader {

// The acknowledged position of every stream, kept in a file that survives a crash of
// the reader and of PostgreSQL together. PostgreSQL writes a slot's confirmed_flush_lsn
// to disk only at checkpoints: after its crash the slot rewinds, and without this file a
// restarted reader would deliver again what consumers had acknowledged. Streams report
// to PostgreSQL only positions the file already holds (durable()), so what PostgreSQL
// has confirmed is always in the file.
//
// Writing is the one thing the reader does on a thread of its own: a write ends with two
// fsync()s (the file, then its directory after the rename), which the loop must not wait
// for. The loop records positions; the thread writes the latest of them whole (a new
// file renamed over the old one, so a crash leaves one or the other), as often as the
// disk allows, and makes notice_fd() readable when a write is durable.
class ack_journal {
 public:
  using positions = std::map<std::string, lsn>;

  // Reads the file if there is one (a file that cannot be read is logged and ignored:
  // it only spares duplicates); throws config_error when its directory is not writable.
  explicit ack_journal(std::filesystem::path file);
  ~ack_journal();  // writes what was recorded last, then stops the thread
  ack_journal(const ack_journal&) = delete;
  ack_journal& operator=(const ack_journal&) = delete;

  // The loop's side.
  std::optional<lsn> position(const std::string& stream) const;  // recorded, durable or not
  void record(const std::string& stream, lsn position);           // never backwards
  void forget(const std::string& stream);                         // dropped, or created anew
  int notice_fd() const { return notice_fd_; }
  positions take_durable();  // what the file holds now; clears the notice

  const std::filesystem::path& file() const { return file_; }

 private:
  void publish();  // hands recorded_ to the writer
  void write_loop();
  bool write(const positions& content);

  const std::filesystem::path file_;
  positions recorded_;  // the loop's copy

  std::mutex mutex_;
  std::condition_variable wake_;
  positions wanted_;
  positions durable_;
  std::uint64_t wanted_version_ = 0;
  std::uint64_t written_version_ = 0;
  bool stopping_ = false;
  int notice_fd_ = -1;  // an eventfd
  std::thread writer_;
};

}  // namespace deltastream::reader
