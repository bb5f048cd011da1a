#pragma once

#include <functional>
#include <memory>
#include <string>

namespace deltastream::gateway {

// A piece of a response body made elsewhere (a database thread), and whether more follow.
struct body_piece {
  enum class end { more, last, failed };  // failed: the body cannot be finished
  std::string data;
  end end = end::more;
};

// A response body produced piece by piece. The session asks for the next piece only
// once it has written the previous one: that is the back pressure, so a source holds a
// bounded number of pieces whatever the client's pace. Used on the I/O thread only.
class body_source {
 public:
  virtual ~body_source() = default;
  // `ready` runs on the I/O thread, exactly once, later or at once.
  virtual void next(std::function<void(body_piece)> ready) = 0;
};

// A 200 answered with chunked transfer encoding, its body pulled from `source`.
struct streamed_response {
  std::string content_type;
  std::shared_ptr<body_source> source;
};

}  // namespace deltastream::gateway
