"""The reader looks after its slots between requests: a lag warning (log and `list`)
when PostgreSQL keeps too much WAL for a slot, and, when asked, dropping the slots that
nobody streams."""

import unittest

from harness import drop_slots, Control, Reader, Subscriber, sql, wait_until


def slot_exists(name):
    return bool(sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = %s", (name,)))


class SlotWatchTest(unittest.TestCase):
    def setUp(self):
        self.reader = Reader("--lag-warning-bytes", str(1 << 20), "--drop-unattached-after", "1")
        self.control = Control(self.reader.control)

    def tearDown(self):
        self.control.close()
        self.reader.close()
        drop_slots()

    def listed(self, stream):
        return {s["stream"]: s for s in self.control.ok("list")["streams"]}.get(stream)

    def test_lagging_slots_are_flagged_and_unused_ones_dropped(self):
        sql("DROP TABLE IF EXISTS watch_rows; CREATE TABLE watch_rows (id int, pad text)")
        busy = self.control.ok("create")["stream"]
        idle = self.control.ok("create")["stream"]
        sub = Subscriber(self.reader.publish, busy)
        try:
            self.control.ok("attach", stream=busy)  # in use, but never ACKs
            self.control.ok("release", stream=idle)  # nobody holds or streams it now
            sql("INSERT INTO watch_rows SELECT g, repeat('x', 1000) FROM generate_series(1, 3000) g")

            wait_until(lambda: self.listed(busy)["lag_warning"], timeout=30, what="the lag warning")
            # `list` judges the lag it reads; the log line comes with the watch's next round.
            wait_until(lambda: f"{busy}: PostgreSQL keeps" in self.reader.output(), timeout=30,
                       what="the lag warning's log line")
            self.assertGreaterEqual(self.listed(busy)["lag_bytes"], 1 << 20)
            self.assertIn("last_ack_age_ms", self.listed(busy))

            wait_until(lambda: not slot_exists(idle), timeout=30, what="the unused slot to be dropped")
            self.assertIn(f"{idle}: dropping the slot, unused", self.reader.output())
            self.assertTrue(slot_exists(busy), "an attached slot was dropped")
        finally:
            sub.close()


if __name__ == "__main__":
    unittest.main()
