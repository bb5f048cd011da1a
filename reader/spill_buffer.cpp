#include "reader/spill_buffer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/errors.hpp"

namespace deltastream::reader {

namespace {

[[noreturn]] void fail(const char* what) {
  // Not the stream's bytes that are wrong: the stream reconnects and tries again.
  throw pg_error(std::string("transaction spill file: ") + what + ": " + std::strerror(errno), "");
}

}  // namespace

void spill_buffer::settle() {
  if (memory_.size() < memory_bytes_) return;
  if (!file_) {
    file_.reset(std::tmpfile());  // unlinked at once: nothing is left behind by a crash
    if (!file_) fail("cannot create");
  }
  if (std::fwrite(memory_.data(), 1, memory_.size(), file_.get()) != memory_.size()) fail("cannot write");
  spilled_ += memory_.size();
  memory_.clear();
}

bool spill_buffer::read(std::string& out, std::size_t max) {
  if (!reading_) {
    reading_ = true;
    if (file_ && (std::fflush(file_.get()) != 0 || std::fseek(file_.get(), 0, SEEK_SET) != 0)) {
      fail("cannot read back");
    }
  }
  if (read_file_ < spilled_) {
    const auto count = std::min(max, spilled_ - read_file_);
    const auto at = out.size();
    out.resize(at + count);
    if (std::fread(out.data() + at, 1, count, file_.get()) != count) fail("cannot read");
    read_file_ += count;
    max -= count;
  }
  if (max > 0 && read_memory_ < memory_.size()) {
    const auto count = std::min(max, memory_.size() - read_memory_);
    out.append(memory_, read_memory_, count);
    read_memory_ += count;
  }
  return read_file_ < spilled_ || read_memory_ < memory_.size();
}

void spill_buffer::clear() {
  memory_.clear();
  file_.reset();  // its disk space goes back at once
  spilled_ = read_file_ = read_memory_ = 0;
  reading_ = false;
}

}  // namespace deltastream::reader
