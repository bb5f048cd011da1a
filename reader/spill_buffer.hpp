#pragma once

#include <cstdio>
#include <memory>
#include <string>

namespace deltastream::reader {

// Bytes appended, then read back once in order, held in memory up to `memory_bytes` and
// beyond that in an unnamed temporary file: a transaction decoded from pgoutput is known
// only once its Commit has come (its "nextlsn" begins the message), so its changes wait,
// and a transaction of a million rows must not wait in memory.
class spill_buffer {
 public:
  explicit spill_buffer(std::size_t memory_bytes) : memory_bytes_(memory_bytes) {}

  // Append to tail(), then settle(): what passed memory_bytes goes to the file.
  std::string& tail() { return memory_; }
  void settle();
  std::size_t size() const { return spilled_ + memory_.size(); }
  bool spilled() const { return spilled_ > 0; }

  // Appends up to `max` of the bytes not yet read to `out`: true while some remain unread.
  bool read(std::string& out, std::size_t max);
  void clear();

 private:
  struct file_closer {
    void operator()(std::FILE* file) const { std::fclose(file); }
  };
  const std::size_t memory_bytes_;
  std::string memory_;
  std::unique_ptr<std::FILE, file_closer> file_;
  std::size_t spilled_ = 0;    // bytes in the file
  std::size_t read_file_ = 0;  // of them, read back
  std::size_t read_memory_ = 0;
  bool reading_ = false;
};

}  // namespace deltastream::reader
