#include <doctest/doctest.h>

#include <algorithm>

#include "reader/slot_watch.hpp"

using deltastream::reader::slot_watch;
using deltastream::reader::slot_watch_settings;
using namespace std::chrono_literals;

namespace {
bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}
}  // namespace

TEST_CASE("a slot over the lag threshold is warned about once per crossing") {
  slot_watch_settings settings;
  settings.lag_warning_bytes = 1000;
  slot_watch watch(settings);
  const auto now = slot_watch::clock::now();
  auto verdict = watch.review({{"delta_a", 999, true}, {"delta_b", 1000, true}}, now);
  CHECK(verdict.lag_warnings == std::vector<std::string>{"delta_b"});
  CHECK(watch.lagging("delta_b"));
  CHECK_FALSE(watch.lagging("delta_a"));
  CHECK(watch.review({{"delta_b", 5000, true}}, now + 5s).lag_warnings.empty());  // still over
  CHECK(watch.review({{"delta_b", 10, true}}, now + 10s).lag_warnings.empty());   // back under
  CHECK_FALSE(watch.lagging("delta_b"));
  CHECK(watch.review({{"delta_b", 2000, true}}, now + 15s).lag_warnings.size() == 1);  // again
  // What `list` shows beside a lag it has just read: that lag against the threshold.
  CHECK(watch.over_threshold(1000));
  CHECK_FALSE(watch.over_threshold(999));
  CHECK_FALSE(watch.over_threshold(-1));  // no lag known
}

TEST_CASE("only slots unused for the whole period are dropped, and only when asked") {
  slot_watch_settings settings;
  slot_watch never(settings);
  const auto now = slot_watch::clock::now();
  CHECK(never.review({{"delta_a", 0, false}}, now).to_drop.empty());
  CHECK(never.review({{"delta_a", 0, false}}, now + 1000h).to_drop.empty());

  settings.drop_unattached_after = 60s;
  slot_watch watch(settings);
  CHECK(watch.review({{"delta_a", 0, false}, {"delta_b", 0, false}, {"delta_c", 0, true}}, now)
            .to_drop.empty());
  // delta_b is used for a moment: its clock starts again.
  CHECK(watch.review({{"delta_a", 0, false}, {"delta_b", 0, true}, {"delta_c", 0, true}}, now + 30s)
            .to_drop.empty());
  const auto verdict =
      watch.review({{"delta_a", 0, false}, {"delta_b", 0, false}, {"delta_c", 0, true}}, now + 60s);
  CHECK(has(verdict.to_drop, "delta_a"));
  CHECK_FALSE(has(verdict.to_drop, "delta_b"));
  CHECK_FALSE(has(verdict.to_drop, "delta_c"));
  CHECK(watch.review({{"delta_b", 0, false}}, now + 90s).to_drop.empty());  // unused since +60 s
  CHECK(has(watch.review({{"delta_b", 0, false}}, now + 120s).to_drop, "delta_b"));
}
