#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "gateway/stream_hub.hpp"

namespace deltastream::gateway {

struct process_figures {
  std::uint64_t reader_disconnects = 0;  // the ZeroMQ link to the reader was lost
};

// GET /metrics in Prometheus' text format (version 0.0.4): the hub's per-stream counters
// and connections, this process's figures, and the reader's view of every slot from its
// `list` reply (`reader_list_json`, empty when the reader could not be asked).
std::string render_metrics(const std::map<std::string, stream_hub::stream_stats>& streams,
                           const process_figures& process, std::string_view reader_list_json);

}  // namespace deltastream::gateway
