"""The browser console (GET /console) in a real headless Chromium, driven by Selenium:
the token form, creating a stream (refused, then accepted), its live tail, lag and lag
warning, pause, table filter, snapshot and delete; the list's search and sort, with a
thousand slots too; the keyboard alone; a phone's width. The page is read through the ids,
classes and data attributes it promises; a real reader, gateway and PostgreSQL stand
behind it, rows are written with psql and a v2 consumer is a python3-websockets client.
Screenshots of every step go to DELTASTREAM_CONSOLE_SHOTS (default
build/console-screenshots/); DELTASTREAM_UPDATE_DOCS=1 copies the stream's page to
docs/console.png."""

import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import websockets
from selenium import webdriver
from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                        TimeoutException)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness import Gateway, Reader, connect, drop_slots, dsn, sql, wait_until

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("DELTASTREAM_CONSOLE_SHOTS") or REPO / "build" / "console-screenshots")

# Chrome logs every fetch answered 4xx as a SEVERE "Failed to load resource" line, whatever
# the page does with the answer. One is expected: the refusal of a create the test provokes.
# (No 401: the page learns from /readyz that it needs a token before it calls the API.)
REFUSED = "Failed to load resource: the server responded with a status of {}"


def psql(statement):
    """One statement through psql, as an application would write (the issue says psql)."""
    subprocess.run(["psql", dsn(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", statement],
                   check=True, capture_output=True)


def slot_exists(slot):
    return sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = %s", (slot,))[0][0] > 0


def new_browser(width=1280, height=900):
    options = Options()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}"):
        options.add_argument(argument)  # --no-sandbox: the tests run as root
    options.binary_location = "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


class Consumer:
    """A v2 stream's consumer on a thread of its own (an asyncio loop there): it keeps every
    event it reads and ACKs only when told, so a test can hold the stream's lag up."""

    def __init__(self, url, token):
        self.events = []
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

        async def connect():
            return await websockets.connect(url, extra_headers={"Authorization": f"Bearer {token}"},
                                            max_size=None)

        self.ws = self._run(connect())
        self.reading = asyncio.run_coroutine_threadsafe(self._read(), self.loop)

    def _run(self, coroutine, timeout=20):
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _read(self):
        try:
            async for message in self.ws:
                self.events.append(json.loads(message))
        except websockets.ConnectionClosed:
            pass
        return self.ws.close_code

    def commit_after(self, row_id):
        """The lsn of the commit that follows the insert of row `row_id`, once it has arrived."""
        def found():
            events = list(self.events)
            inserted = [i for i, e in enumerate(events) if e["op"] == "insert" and e["new"].get("id") == row_id]
            commits = [e["lsn"] for e in events[inserted[0]:] if e["op"] == "commit"] if inserted else []
            return commits[0] if commits else None
        return wait_until(found, 20, what=f"the consumer to read the commit of row {row_id}")

    def ack(self, lsn):
        self._run(self.ws.send(json.dumps({"lsn": lsn})))

    def close_code(self, timeout=20):
        """How the gateway closed the connection (waits for it)."""
        return self.reading.result(timeout)

    def close(self):
        if not self.reading.done():
            self._run(self.ws.close())
            self.reading.result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(20)
        self.loop.close()


class ConsoleCase(unittest.TestCase):
    """A reader, a gateway with an admin token, a table of this run's own, a browser.
    Everything is undone in addCleanup's order (last made, first undone), failure or not."""

    width, height = 1280, 900
    reader_flags = ()
    gateway_flags = ()

    def setUp(self):
        self.suffix = suffix = secrets.token_hex(3)
        self.name = f"console_{suffix}"  # the stream the test creates through the page
        self.table = f"console_orders_{suffix}"
        self.qualified = f"public.{self.table}"
        self.addCleanup(self.drop_leftovers, suffix)
        # qty in the replica identity: a row filter on it is allowed (PostgreSQL 15 takes no
        # column list under REPLICA IDENTITY FULL), and an update's old key carries it.
        sql(f"CREATE TABLE {self.table} (id int PRIMARY KEY, item text, qty int NOT NULL);"
            f"CREATE UNIQUE INDEX {self.table}_identity ON {self.table} (id, qty);"
            f"ALTER TABLE {self.table} REPLICA IDENTITY USING INDEX {self.table}_identity")
        self.addCleanup(sql, f"DROP TABLE IF EXISTS {self.table}")

        self.token = secrets.token_hex(16)
        tokens = tempfile.NamedTemporaryFile("w", prefix="console-", suffix=".tokens", delete=False)
        tokens.write(f"admin {self.token}\n")
        tokens.close()
        self.addCleanup(os.unlink, tokens.name)
        self.reader = Reader("--status-interval", "1", *self.reader_flags)
        self.addCleanup(self.reader.close)
        self.gateway = Gateway(self.reader, "--token-file", tokens.name, *self.gateway_flags)
        self.addCleanup(self.gateway.close)

        self.driver = new_browser(self.width, self.height)
        self.addCleanup(self.driver.quit)
        self.expected_log = []  # (text, from, until): SEVERE lines a correct page logs too
        SHOTS.mkdir(parents=True, exist_ok=True)

    def drop_leftovers(self, suffix):
        """What a failed test may leave: its slots and publications (the reader is gone)."""
        pattern = f"delta_v2_%{suffix}"
        drop_slots("slot_name LIKE %s", (pattern,))
        for (name,) in sql("SELECT pubname FROM pg_publication WHERE pubname LIKE %s", (pattern,)):
            sql(f'DROP PUBLICATION "{name}"')

    # --- the gateway's API, with the admin token (for what the test sets up or checks) ---

    def api(self, method, path, body=None):
        return self.gateway.http(method, path, json.dumps(body) if body is not None else None,
                                 headers={"Authorization": f"Bearer {self.token}"})

    def create_stream(self, name, **table):
        status, body = self.api("POST", "/v2/streams", {"name": name, "tables": [{"table": self.qualified, **table}]})
        self.assertEqual(status, 201, body)
        self.addCleanup(self.api, "DELETE", f"/v2/streams/{name}")
        return body

    def consumer(self, name):
        consumer = Consumer(f"{self.gateway.ws_url}/v2/streams/{name}/changes", self.token)
        self.addCleanup(consumer.close)
        return consumer

    # --- the page ---

    def wait(self, predicate, timeout=10, what="the page"):
        """WebDriverWait on a predicate that reads the page; on a timeout, a screenshot
        named after what was awaited, and the failure says where it is."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)) \
                .until(lambda _: predicate())
        except TimeoutException:
            shot = self.shot("failed-" + re.sub(r"[^a-z0-9]+", "-", f"{self.id()} {what}".lower())[-80:])
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (screenshot {shot})") from None

    def shot(self, name):
        path = SHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def shown(self, css):
        """The element when it is displayed (for WebDriverWait), else None."""
        element = self.find(css)
        return element if element.is_displayed() else None

    def text(self, css):
        """What the element shows (Selenium's visible text)."""
        return self.find(css).text.strip()

    def content(self, css):
        """The element's textContent: also what a scrolling box holds out of view."""
        return self.driver.execute_script("return document.querySelector(arguments[0]).textContent", css)

    def hash(self):
        return self.driver.execute_script("return location.hash")

    def fill(self, element, value):
        element.clear()
        element.send_keys(value)

    def open_console(self):
        """Opens /console, which asks for the token (the gateway wants one), and enters it."""
        self.driver.get(f"{self.gateway.url}/console")
        self.wait(lambda: self.shown("#token-form"), what="#token-form shown (the gateway wants a token)")
        self.fill(self.find("#token-input"), self.token)
        self.find("#token-save").click()
        self.wait(lambda: not self.find("#token-form").is_displayed(), what="#token-form hidden with a token")

    def stream_row(self, name):
        """The list's row of a stream in one read (the list is redrawn every 2 s): its data
        attributes and its cells' text by class, or None."""
        return self.driver.execute_script("""
            const row = document.querySelector(`#streams-table tr.stream-row[data-name="${arguments[0]}"]`);
            if (!row) return null;
            const cells = {};
            for (const td of row.querySelectorAll('td')) cells[td.className.split(' ')[0]] = td.textContent.trim();
            return {api: row.dataset.api, lag: row.dataset.lag, classes: [...row.classList], cells,
                    sparkline: Number(row.querySelector('td.lag svg.sparkline')?.getAttribute('data-points') || 0)};""",
            name)

    def open_stream_from_list(self, name):
        """Clicks the stream's link in the list (again if a redraw replaced it meanwhile)."""
        self.wait(lambda: self.find(f'#streams-table tr.stream-row[data-name="{name}"] td.name a').click() or True,
                  what=f"a click on {name}'s link")
        self.wait_for_stream_page(name)

    def wait_for_list(self, present, absent=()):
        """Until the list shows the streams `present` and not `absent`: a list that has been
        drawn (an absent row proves something only next to a present one)."""
        self.wait(lambda: self.shown("#streams-view") and all(self.stream_row(n) for n in present)
                  and not any(self.stream_row(n) for n in absent),
                  what=f"the streams list with {list(present)} and without {list(absent)}")

    def sort_by_name(self):
        """Clicks the name column's sort button: the order its th then claims (aria-sort)."""
        self.find('#streams-table button[data-sort="name"]').click()

        def claimed():
            order = self.find('#streams-table th:has(button[data-sort="name"])').get_attribute("aria-sort")
            return order if order in ("ascending", "descending") else None
        return self.wait(claimed, 2, what="the name column's aria-sort")

    def wait_for_stream_page(self, name, api="v2", consumer=True):
        """The stream's page, its tail live (with a consumer) or waiting for one: without a
        consumer the page opens no observer, which would have the reader decode the slot."""
        self.wait(lambda: self.hash() == f"#/{api}/{name}", what=f"the page at #/{api}/{name}")
        self.wait(lambda: self.shown("#stream-view") and self.text("#stream-title") == name,
                  what=f"#stream-title {name}")
        state = "live" if consumer else "waiting for a consumer"
        self.wait(lambda: self.text("#tail-state").startswith(state), what=f"#tail-state {state}")

    def tail_rows(self):
        """The live tail's rows in one read (the page redraws: no stale elements)."""
        return self.driver.execute_script("""
            return Array.from(document.querySelectorAll('ol#tail-list li.tail-row')).map(li => ({
              op: li.dataset.op, table: li.dataset.table, text: li.textContent,
              shown: li.getClientRects().length > 0,
              changes: Array.from(li.querySelectorAll('.change')).map(c => c.textContent)}));""")

    def tail_row(self, item, op="insert"):
        """The shown tail row of `op` holding the value `item`, or None."""
        for row in self.tail_rows():
            if row["shown"] and row["op"] == op and item in row["text"]:
                return row
        return None

    def wait_in_tail(self, *items, table=None, timeout=2):
        """The rows' inserts in the tail within `timeout` (2 s: the issue's promise) after the
        insert has returned, each marked with its table (by default the test's table)."""
        self.wait(lambda: all(self.tail_row(item) for item in items), timeout,
                  what=f"tail rows {items} within {timeout}s")
        for item in items:
            self.assertEqual(self.tail_row(item)["table"], table or self.qualified)

    def assert_not_in_tail(self, item):
        self.assertFalse([row for row in self.tail_rows() if row["shown"] and item in row["text"]],
                         f"{item!r} is in the tail")

    def lag_bytes(self):
        """#stream-lag's data-bytes, or -1 while it holds no number."""
        value = self.find("#stream-lag").get_attribute("data-bytes")
        return int(value) if value and value.isdigit() else -1

    def no_horizontal_scroll(self):
        return self.driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth + 1")

    def wider_than_the_window(self):
        """For the failure message: the elements that stick out on the right."""
        return self.driver.execute_script("""
            return Array.from(document.querySelectorAll('body *')).filter(e => {
              const r = e.getBoundingClientRect();
              return r.width > 0 && r.right > window.innerWidth + 1 && e.getClientRects().length > 0;
            }).slice(0, 10).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                                 (e.className && typeof e.className === 'string' ? '.' + e.className : '') +
                                 ' right=' + Math.round(e.getBoundingClientRect().right));""")

    def assert_no_horizontal_scroll(self, where):
        if not self.no_horizontal_scroll():
            sizes = self.driver.execute_script(
                "return [document.documentElement.scrollWidth, window.innerWidth]")
            self.fail(f"{where}: the page scrolls sideways (scrollWidth {sizes[0]} > innerWidth {sizes[1]}); "
                      f"wider: {self.wider_than_the_window()} (screenshot {self.shot('failed-' + where)})")

    @contextlib.contextmanager
    def refusal_logged(self, path, status):
        """The gateway's refusal of `path` with `status`, while the block runs, is expected
        in the browser's console."""
        start = time.time() * 1000
        yield
        self.expected_log.append((f"{path} - {REFUSED.format(status)}", start, time.time() * 1000))

    def assert_no_severe_log(self):
        """No SEVERE line in the browser's console, but those expected (see REFUSED)."""
        severe = [entry for entry in self.driver.get_log("browser") if entry["level"] == "SEVERE"]
        unexpected = [entry for entry in severe
                      if not any(text in entry["message"] and start <= entry["timestamp"] <= until
                                 for text, start, until in self.expected_log)]
        self.assertEqual(unexpected, [], "SEVERE lines in the browser console:\n" +
                         "\n".join(f"{e['timestamp']} {e['source']}: {e['message']}" for e in unexpected))


class StreamLifeTest(ConsoleCase):
    """One stream through the console, from its creation to its deletion."""

    reader_flags = ("--lag-warning-bytes", str(1 << 20))

    def test_create_tail_lag_pause_filter_snapshot_and_delete(self):
        # A second table in the stream, for the tail's table filter.
        self.other = f"public.console_items_{self.suffix}"
        sql(f"CREATE TABLE {self.other} (id int PRIMARY KEY, label text)")
        self.addCleanup(sql, f"DROP TABLE IF EXISTS {self.other}")
        # Rows before the stream: the snapshot's; 'before-zero' is outside the row filter.
        psql(f"INSERT INTO {self.table} VALUES (1, 'before-1', 3), (2, 'before-2', 4), (3, 'before-zero', 0)")
        self.bystander = f"bystander_{self.name[-6:]}"  # so the list is never empty
        self.create_stream(self.bystander)
        self.open_console()
        self.wait_for_list([self.bystander])
        self.shot("01-streams")

        self.create_refused()
        self.create_accepted()
        self.assertEqual(self.api("GET", f"/v2/streams/{self.name}")[1]["observers"], 0)  # none opened yet
        consumer = self.consumer(self.name)
        self.wait(lambda: self.text("#stream-consumer") == "connected", what="#stream-consumer connected")
        self.wait(lambda: self.text("#tail-state") == "live", what="#tail-state live once there is a consumer")
        self.tail_shows_changes()
        self.lag_grows_over_the_warning()
        self.list_row_shows_the_consumer_and_the_warning()
        self.ack_lowers_the_lag(consumer)
        self.pause_hides_rows_and_resume_shows_new_ones(consumer)
        self.table_filter_keeps_the_tables_rows()
        self.snapshot_holds_the_rows_before_the_stream()
        self.delete(consumer)
        self.assert_no_severe_log()

    def fill_create_form(self, where, other_table=None):
        form = self.find("form#create-form")
        self.fill(form.find_element(By.ID, "create-name"), self.name)
        entry = form.find_element(By.CSS_SELECTOR, "fieldset.table-entry")  # the first
        self.fill(entry.find_element(By.CSS_SELECTOR, "input[name=table]"), self.qualified)
        self.fill(entry.find_element(By.CSS_SELECTOR, "input[name=columns]"), "id,item,qty")
        self.fill(entry.find_element(By.CSS_SELECTOR, "input[name=where]"), where)
        if other_table:  # all its columns, every row
            self.find("#add-table").click()
            second = form.find_elements(By.CSS_SELECTOR, "fieldset.table-entry")[1]
            self.fill(second.find_element(By.CSS_SELECTOR, "input[name=table]"), other_table)
        self.find("#create-submit").click()

    def create_refused(self):
        """PostgreSQL refuses the where: its message is shown, and nothing was created."""
        with self.refusal_logged("/v2/streams", 400):
            self.fill_create_form("nosuchcolumn > 1")
            self.wait(lambda: "nosuchcolumn" in self.text("#create-error"), what="#create-error naming the column")
        self.shot("02-create-refused")
        self.assertIn("does not exist", self.text("#create-error"))  # PostgreSQL's words
        self.assertIn(self.hash(), ("", "#", "#/"))
        self.assertFalse(slot_exists(f"delta_v2_{self.name}"))

    def create_accepted(self):
        self.fill_create_form("qty > 0", self.other)
        self.wait_for_stream_page(self.name, consumer=False)
        self.addCleanup(self.api, "DELETE", f"/v2/streams/{self.name}")
        status, stream = self.api("GET", f"/v2/streams/{self.name}")  # what the form sent
        self.assertEqual((status, sorted(stream["tables"], key=lambda t: t["table"] != self.qualified)),
                         (200, [{"table": self.qualified, "columns": ["id", "item", "qty"], "where": "(qty > 0)"},
                                {"table": self.other, "columns": ["id", "label"], "where": None}]))
        self.assertIsNotNone(stream["snapshot"])  # "Hold a snapshot" is checked by default
        self.wait(lambda: self.qualified in self.text("#stream-tables"), what="#stream-tables")

    def tail_shows_changes(self):
        psql(f"INSERT INTO {self.table} VALUES (10, 'tail-10', 1), (11, 'tail-11', 2)")
        self.wait_in_tail("tail-10", "tail-11")
        # Outside the filter, then a marker: the marker shown proves the other was not.
        psql(f"INSERT INTO {self.table} VALUES (12, 'filtered-out', 0)")
        psql(f"INSERT INTO {self.table} VALUES (13, 'marker-13', 5)")
        self.wait_in_tail("marker-13")
        self.assert_not_in_tail("filtered-out")

        # Values are text, never markup.
        psql(f"INSERT INTO {self.table} VALUES (14, '<img src=x onerror=\"window.pwned=1\">', 5)")
        self.wait_in_tail('<img src=x onerror="window.pwned=1">')
        self.assertIsNone(self.driver.execute_script("return window.pwned"))

        psql(f"UPDATE {self.table} SET qty = 7 WHERE id = 10")
        self.wait(lambda: self.tail_row("tail-10", op="update"), 2, what="the update in the tail within 2s")
        # qty's old value came with the key; item's did not (the page says so, with a blank).
        changes = sorted(" ".join(change.split()) for change in self.tail_row("tail-10", op="update")["changes"])
        self.assertEqual(changes, ["item: → tail-10", "qty: 1 → 7"])
        self.shot("03-stream-page")

    def lag_grows_over_the_warning(self):
        """Rows the consumer has not acknowledged: the lag the page shows grows."""
        # Drawn from a poll: the markup's own data-bytes="0" comes with no text.
        self.wait(lambda: self.text("#stream-lag") and self.lag_bytes() >= 0, what="#stream-lag drawn")
        before = self.lag_bytes()
        # 20,000 small rows: past the reader's --lag-warning-bytes (1 MiB) of WAL.
        psql(f"INSERT INTO {self.table} SELECT g, 'order-' || g, g % 5 + 1 FROM generate_series(100, 20099) g")
        self.wait(lambda: self.lag_bytes() > before, 15, what=f"#stream-lag data-bytes above {before}")
        self.assertTrue(self.find("svg#stream-lag-chart").is_displayed())
        self.shot("04-lag")

    def list_row_shows_the_consumer_and_the_warning(self):
        self.find("#back-link").click()
        self.wait_for_list([self.name, self.bystander])
        self.wait(lambda: self.stream_row(self.name)["cells"].get("consumer") == "connected"
                  and "lag-warning" in self.stream_row(self.name)["classes"], 15,
                  what="the list's row: consumer connected, class lag-warning")
        row = self.stream_row(self.name)
        self.assertEqual(row["api"], "v2")
        self.assertGreater(int(row["lag"]), 1 << 20)
        self.assertGreaterEqual(row["sparkline"], 2, "the list's sparkline has fewer than 2 samples")
        self.assertIn(self.qualified, row["cells"].get("tables", ""))
        self.assertIn("qty > 0", row["cells"].get("tables", ""))
        self.assertEqual(self.stream_row(self.bystander)["cells"].get("consumer"), "none")
        self.open_stream_from_list(self.name)

    def ack_lowers_the_lag(self, consumer):
        lsn = consumer.commit_after(20099)
        self.wait(lambda: self.lag_bytes() > 1 << 20, what="#stream-lag over 1 MiB")
        unacked = self.lag_bytes()
        consumer.ack(lsn)
        self.wait(lambda: self.text("#stream-acked") == lsn, 15, what=f"#stream-acked {lsn}")
        self.wait(lambda: 0 <= self.lag_bytes() < unacked, 15, what=f"#stream-lag data-bytes below {unacked} after the ACK")
        self.shot("04-acked")

    def pause_hides_rows_and_resume_shows_new_ones(self, consumer):
        self.find("#tail-pause").click()
        self.wait(lambda: self.text("#tail-state") == "paused" and self.paused() == "true",
                  what="#tail-state paused, aria-pressed true")
        self.assertEqual(self.text("#tail-pause"), "Resume")
        psql(f"INSERT INTO {self.table} VALUES (20, 'while-paused', 1)")
        consumer.commit_after(20)  # it has gone out to the gateway's clients
        self.assert_not_in_tail("while-paused")
        self.find("#tail-pause").click()
        self.wait(lambda: self.text("#tail-state") == "live" and self.paused() == "false",
                  what="#tail-state live again, aria-pressed false")
        self.assertEqual(self.text("#tail-pause"), "Pause")
        psql(f"INSERT INTO {self.table} VALUES (21, 'after-resume', 1)")
        self.wait_in_tail("after-resume")
        self.assert_not_in_tail("while-paused")  # counted, never shown

    def paused(self):
        return self.find("#tail-pause").get_attribute("aria-pressed")

    def table_filter_keeps_the_tables_rows(self):
        select = Select(self.find("select#tail-table"))
        values = [option.get_attribute("value") for option in select.options]
        self.assertEqual((values[0], sorted(values[1:])), ("", sorted([self.qualified, self.other])))
        select.select_by_value(self.qualified)
        # The other table's row first: the chosen table's, shown, proves it was passed over.
        psql(f"INSERT INTO {self.other} VALUES (1, 'other-hidden')")
        psql(f"INSERT INTO {self.table} VALUES (22, 'chosen-table', 1)")
        self.wait_in_tail("chosen-table", "after-resume")
        self.assert_not_in_tail("other-hidden")
        self.assertEqual({row["table"] for row in self.tail_rows() if row["shown"]}, {self.qualified})
        select.select_by_value("")  # all tables again
        psql(f"INSERT INTO {self.other} VALUES (2, 'other-shown')")
        self.wait_in_tail("other-shown", table=self.other)
        path = self.shot("05-tail")  # the lag's rise and fall, rows in the tail: the README's picture
        if os.environ.get("DELTASTREAM_UPDATE_DOCS") == "1":
            shutil.copyfile(path, REPO / "docs" / "console.png")

    def snapshot_holds_the_rows_before_the_stream(self):
        section = f'#snapshot section.snapshot-table[data-table="{self.qualified}"]'
        self.wait(lambda: "before-2" in self.content(section), what=f"{section} with its rows")
        shown = self.content(section)
        self.assertIn("before-1", shown)
        self.assertNotIn("before-zero", shown)  # outside the row filter
        self.assertNotIn("tail-10", shown)  # written after the stream's start

    def delete(self, consumer):
        self.find("#delete-stream").click()
        self.wait(lambda: self.shown("dialog#delete-dialog[open]"), what="dialog#delete-dialog open")
        self.find("#delete-confirm").click()
        self.wait(lambda: self.hash() in ("", "#", "#/"), what="the list's route #/ after the delete")
        self.wait_for_list([self.bystander], absent=[self.name])
        self.shot("06-deleted")
        self.assertFalse(slot_exists(f"delta_v2_{self.name}"))
        self.assertEqual(consumer.close_code(), 1000)


class SamplingTest(ConsoleCase):
    """5,000 rows a second: the tail samples, says so and shows the rate, keeps at most 200
    rows, and is still live afterwards. How long the page's main thread was held up at most
    is printed (a figure, not a bound: timing belongs to benchmarks)."""

    rows_per_second, seconds, batch = 5000, 6, 250

    def write_at_rate(self):
        conn = connect()
        try:
            with conn.cursor() as cur:
                start = time.monotonic()
                for first in range(1000, 1000 + self.rows_per_second * self.seconds, self.batch):
                    cur.execute(f"INSERT INTO {self.table} SELECT g, 'burst', 1 FROM generate_series(%s, %s) g",
                                (first, first + self.batch - 1))
                    due = start + (first - 1000 + self.batch) / self.rows_per_second
                    time.sleep(max(0.0, due - time.monotonic()))
        finally:
            conn.close()

    def test_at_5000_rows_a_second_the_tail_samples_and_says_so(self):
        self.create_stream(self.name)
        self.consumer(self.name)
        self.open_console()
        self.driver.get(f"{self.gateway.url}/console#/v2/{self.name}")
        self.wait_for_stream_page(self.name)
        self.driver.execute_script("""
            window.longestStall = 0;
            let last = performance.now();
            setInterval(() => { const now = performance.now();
                                window.longestStall = Math.max(window.longestStall, now - last - 50);
                                last = now; }, 50);""")
        writer = threading.Thread(target=self.write_at_rate)
        writer.start()
        self.addCleanup(writer.join)
        self.wait(lambda: self.shown("#tail-sampling"), 10, what="#tail-sampling shown")
        sampling = re.fullmatch(r"sampling: showing 1 in (\d+)", self.text("#tail-sampling"))
        self.assertTrue(sampling, self.text("#tail-sampling"))
        self.assertGreaterEqual(int(sampling.group(1)), 2)
        rate = int(re.fullmatch(r"(\d+) rows/s", self.text("#tail-rate")).group(1))
        self.assertGreater(rate, 100)  # sampling starts past 100 rows/s (the README's figure)
        self.shot("10-sampling")
        writer.join()
        self.assertLessEqual(len(self.tail_rows()), 200)
        psql(f"INSERT INTO {self.table} VALUES (1, 'after-the-burst', 1)")
        self.wait_in_tail("after-the-burst", timeout=10)
        print(f"\nconsole at {self.rows_per_second} rows/s: the page showed {rate} rows/s, sampling 1 in "
              f"{sampling.group(1)}; its main thread was held up at most "
              f"{self.driver.execute_script('return window.longestStall'):.0f} ms")
        self.assert_no_severe_log()


class V1TailTest(ConsoleCase):
    """A v1 slot's page: its wal2json transactions in the tail as rows (an update with its
    key's old values, a delete), and a bigint past 2^53 shown as PostgreSQL wrote it."""

    v1_slot = None

    def drop_leftovers(self, suffix):
        super().drop_leftovers(suffix)
        if self.v1_slot:  # after the reader: an active slot is not dropped
            drop_slots("slot_name = %s", (self.v1_slot,))

    def test_a_v1_slots_changes_in_the_tail(self):
        sql(f"ALTER TABLE {self.table} ADD COLUMN big bigint")
        status, body = self.api("GET", "/v1/init")
        self.assertEqual(status, 200, body)
        self.v1_slot = body["slotName"]
        consumer = Consumer(f"{self.gateway.ws_url}/v1/lr/stream?slotName={self.v1_slot}", self.token)
        self.addCleanup(consumer.close)
        self.open_console()
        self.driver.get(f"{self.gateway.url}/console#/v1/{self.v1_slot}")
        self.wait_for_stream_page(self.v1_slot, api="v1")
        self.assertTrue(self.find("#delete-stream").get_attribute("hidden") is not None)  # v2's only

        psql(f"INSERT INTO {self.table} VALUES (30, 'v1-row', 2, 9007199254740993)")
        self.wait_in_tail("v1-row")
        self.assertIn("big: 9007199254740993", self.tail_row("v1-row")["text"])  # not ...992
        psql(f"UPDATE {self.table} SET item = 'v1-changed' WHERE id = 30")
        self.wait(lambda: self.tail_row("v1-changed", op="update"), 2, what="the v1 update in the tail")
        # wal2json sends the identity's old values (id, qty): the others' are unknown, blank.
        changes = sorted(" ".join(change.split()) for change in self.tail_row("v1-changed", op="update")["changes"])
        self.assertEqual(changes, ["big: → 9007199254740993", "item: → v1-changed"])
        psql(f"DELETE FROM {self.table} WHERE id = 30")
        self.wait(lambda: self.tail_row("id: 30", op="delete"), 2, what="the v1 delete in the tail")
        self.assertEqual(self.tail_row("id: 30", op="delete")["table"], self.qualified)
        self.shot("11-v1-tail")
        self.assert_no_severe_log()


class ListTest(ConsoleCase):
    """The list's search box and sort buttons."""

    def shown_names(self):
        return self.driver.execute_script("""
            return Array.from(document.querySelectorAll('#streams-table tr.stream-row'))
              .filter(row => row.getClientRects().length > 0).map(row => row.dataset.name);""")

    def ours(self):
        """The shown rows of this test's streams, in the page's order."""
        return [name for name in self.shown_names() if name in self.names]

    def search(self, text):
        self.fill(self.find("input#stream-search"), text)

    def test_search_filters_and_sort_orders(self):
        self.names = [f"{word}_{self.name[-6:]}" for word in ("alpha", "bravo", "charlie")]
        for name in self.names:
            self.create_stream(name)
        self.open_console()
        self.wait_for_list(self.names)
        total = len(self.shown_names())
        self.assertRegex(self.text("#streams-count"), rf"^{total} streams?$")

        self.search(self.names[1])  # by name
        self.wait(lambda: self.shown_names() == [self.names[1]], what=f"only {self.names[1]} shown")
        self.assertRegex(self.text("#streams-count"), rf"^1 of {total} streams$")
        self.search(f"delta_v2_{self.names[2]}")  # by slot
        self.wait(lambda: self.shown_names() == [self.names[2]], what=f"only {self.names[2]} shown")
        self.search(self.table)  # by table: all three are on it
        self.wait(lambda: sorted(self.shown_names()) == self.names, what="the three streams of the table")
        self.search("")

        orders = []
        for _ in range(2):  # a click sorts, the next reverses
            orders.append(self.sort_by_name())
            expected = self.names if orders[-1] == "ascending" else self.names[::-1]
            self.wait(lambda: self.ours() == expected, what=f"the streams {orders[-1]}")
        self.assertNotEqual(orders[0], orders[1])
        self.assert_no_severe_log()


class ManyStreamsTest(ConsoleCase):
    """A thousand slots: the list counts them all, draws them, and search and sort still
    work on the whole set (v1 slots, made in PostgreSQL directly: a v2 stream each would
    take a publication and a create apiece for the same page)."""

    many = 1000

    def setUp(self):
        super().setUp()
        room = int(sql("SHOW max_replication_slots")[0][0])
        used = sql("SELECT count(*) FROM pg_replication_slots")[0][0]
        self.assertGreaterEqual(room - used, self.many + 2, "the test PostgreSQL has no room for this many slots: "
                                "start it with LOCAL_PG_SLOTS=1100, as tests/run.sh does")
        self.prefix = f"delta_m{self.suffix}_"
        self.addCleanup(drop_slots, "starts_with(slot_name, %s)", (self.prefix,))
        sql("SELECT count(pg_create_logical_replication_slot(%s || lpad(i::text, 4, '0'), 'wal2json')) "
            "FROM generate_series(1, %s) i", (self.prefix, self.many))

    def served(self):
        """The names the list shows, as the API gives them (the page is checked against it)."""
        status, body = self.api("GET", "/v2/slots")
        self.assertEqual(status, 200, body)
        return sorted(slot["name"] for slot in body["slots"])

    def first_rows(self):
        return self.driver.execute_script("""
            return Array.from(document.querySelectorAll('#streams-table tr.stream-row'))
              .slice(0, 3).map(row => row.dataset.name);""")

    def test_a_thousand_streams_are_counted_searched_and_sorted(self):
        names = self.served()
        self.assertGreaterEqual(len(names), self.many)
        self.open_console()
        self.wait(lambda: self.text("#streams-count") == f"{len(names)} streams", 15,
                  what=f"#streams-count: {len(names)} streams")
        self.assertTrue(self.first_rows())
        self.shot("09-many-streams")

        wanted = f"{self.prefix}0742"
        self.fill(self.find("#stream-search"), wanted)
        self.wait(lambda: self.text("#streams-count") == f"1 of {len(names)} streams", 2,
                  what=f"#streams-count: 1 of {len(names)} streams")
        self.assertEqual(self.first_rows(), [wanted])
        self.assertEqual(self.stream_row(wanted)["api"], "v1")

        self.fill(self.find("#stream-search"), self.prefix)  # this test's: all of them, or all but a few
        ours = f"{self.many} streams" if self.many == len(names) else f"{self.many} of {len(names)} streams"
        self.wait(lambda: self.text("#streams-count") == ours, 2, what=f"#streams-count: {ours}")
        orders = []
        for _ in range(2):  # a click sorts, the next reverses
            orders.append(self.sort_by_name())
            numbers = range(1, 4) if orders[-1] == "ascending" else range(self.many, self.many - 3, -1)
            self.wait(lambda: self.first_rows() == [f"{self.prefix}{i:04d}" for i in numbers], 2,
                      what=f"the names {orders[-1]}")
        self.assertNotEqual(orders[0], orders[1])
        self.assert_no_severe_log()


class KeyboardTest(ConsoleCase):
    """Everything reachable and named with the Tab key alone; a stream created and deleted
    without the mouse."""

    def active(self):
        return self.driver.switch_to.active_element

    def press(self, *keys):
        ActionChains(self.driver).send_keys(*keys).perform()

    def tab_to(self, matches, what, limit=120):
        """Presses Tab until the focused element matches (none if it already does); fails
        after `limit` presses."""
        for _ in range(limit):
            if matches(self.active()):
                return self.active()
            self.press(Keys.TAB)
        self.fail(f"Tab never reached {what} (screenshot {self.shot('failed-tab-' + what)})")

    def by_id(self, element_id):
        return lambda element: element.get_attribute("id") == element_id

    def entry_field(self, name):
        """An input of the create form's first fieldset.table-entry."""
        first = self.find("form#create-form fieldset.table-entry")
        return lambda element: element.get_attribute("name") == name and first.find_elements(
            By.CSS_SELECTOR, f"input[name={name}]")[0] == element

    def accessible_name(self, element):
        """What a screen reader announces: Chrome's computed name, else label, aria-label, text."""
        labels = self.driver.execute_script(
            "return Array.from(arguments[0].labels || []).map(l => l.textContent).join(' ')", element)
        return " ".join((element.accessible_name or labels or element.get_attribute("aria-label")
                         or element.text or "").split())

    def walk_the_tab_order(self):
        """Every element Tab focuses, once round, from the top of a freshly loaded page."""
        walked, seen = [], set()
        for _ in range(150):
            self.press(Keys.TAB)
            element = self.active()
            if element.tag_name == "body":  # past the last element, before the first again
                continue
            if element.id in seen:
                return walked
            seen.add(element.id)
            walked.append({"element": element, "id": element.get_attribute("id"),
                           "tag": element.tag_name, "name": self.accessible_name(element),
                           "sort": element.get_attribute("data-sort"), "input": element.get_attribute("name"),
                           "visible": element.is_displayed() and element.size["width"] > 0
                           and element.size["height"] > 0})
        self.fail("Tab went round more than 150 elements without coming back")

    def test_the_list_and_a_stream_with_the_keyboard_alone(self):
        bystander = f"bystander_{self.name[-6:]}"
        self.create_stream(bystander)
        self.driver.get(f"{self.gateway.url}/console")
        self.wait(lambda: self.shown("#token-form"), what="#token-form shown (the gateway wants a token)")
        self.tab_to(self.by_id("token-input"), "#token-input")
        self.press(self.token, Keys.ENTER)
        self.wait_for_list([bystander])
        # The token stays for the session; a reload puts the Tab order back at the top.
        self.driver.refresh()
        self.wait_for_list([bystander])
        self.assertFalse(self.find("#token-form").is_displayed())

        walked = self.walk_the_tab_order()
        self.shot("08-keyboard-list")
        report = [(w["tag"], w["id"] or w["sort"] or w["input"], w["name"]) for w in walked]
        self.assertEqual([r for r, w in zip(report, walked) if not w["visible"]], [], "focused but not visible")
        self.assertEqual([r for r, w in zip(report, walked) if not w["name"]], [], "focused with no accessible name")

        def position(matches, what):
            found = [i for i, w in enumerate(walked) if matches(w)]
            self.assertTrue(found, f"Tab never reaches {what}: {report}")
            return found[0]

        search = position(lambda w: w["id"] == "stream-search", "#stream-search")
        sorts = [position(lambda w, s=s: w["sort"] == s, f"button[data-sort={s}]")
                 for s in ("name", "api", "consumer", "observers", "acked", "lag", "rate")]
        self.assertLess(search, min(sorts), report)  # the search box before the table it filters
        self.assertEqual(sorts, sorted(sorts), report)  # the columns left to right
        form = [position(lambda w: w["id"] == "create-name", "#create-name"),
                position(lambda w: w["input"] == "table", "the table-entry's table"),
                position(lambda w: w["input"] == "columns", "the table-entry's columns"),
                position(lambda w: w["input"] == "where", "the table-entry's where"),
                position(lambda w: w["id"] == "create-submit", "#create-submit")]
        self.assertEqual(form, sorted(form), report)
        position(lambda w: w["id"] == "add-table", "#add-table")
        position(lambda w: w["id"] == "create-snapshot", "#create-snapshot")

        # Create: type into each field, Enter in the last one submits.
        for matches, what, value in ((self.by_id("create-name"), "#create-name", self.name),
                                     (self.entry_field("table"), "table", self.table),
                                     (self.entry_field("where"), "where", "id > 0")):
            self.tab_to(matches, what)
            self.press(value)
        self.press(Keys.ENTER)
        self.wait_for_stream_page(self.name, consumer=False)
        self.addCleanup(self.api, "DELETE", f"/v2/streams/{self.name}")

        # Delete: Enter on #delete-stream, then on #delete-confirm in the dialog.
        self.tab_to(self.by_id("delete-stream"), "#delete-stream")
        self.press(Keys.ENTER)
        self.wait(lambda: self.shown("dialog#delete-dialog[open]"), what="dialog#delete-dialog open")
        self.tab_to(self.by_id("delete-confirm"), "#delete-confirm", limit=10)  # the dialog holds the focus
        self.press(Keys.ENTER)
        self.wait(lambda: self.hash() in ("", "#", "#/"), what="the list's route #/ after the delete")
        self.wait_for_list([bystander], absent=[self.name])
        self.assertFalse(slot_exists(f"delta_v2_{self.name}"))
        self.assert_no_severe_log()


class PhoneTest(ConsoleCase):
    """390 px wide: no sideways scroll of the page (a wide table scrolls in its own box).
    The gateway allows another site's pages too: its own, the console, must still work."""

    width, height = 390, 844
    gateway_flags = ("--allowed-origins", "https://app.example")

    def setUp(self):
        super().setUp()
        # Chrome keeps a desktop window at least 500 px wide: a phone's screen is emulated
        # (mobile: the page's <meta name="viewport"> is honoured, as a phone's browser does).
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": True})

    def test_the_list_and_a_stream_page_fit_a_phone(self):
        # A long value without spaces, as ids and hashes are: it must not widen the page.
        long_item = "x" * 40 + secrets.token_hex(40)
        psql(f"INSERT INTO {self.table} VALUES (1, '{long_item}', 1)")
        self.create_stream(self.name)
        self.consumer(self.name)  # the tail opens while the stream has one
        self.open_console()
        self.wait_for_list([self.name])
        # 980 here would mean a page laid out for a desktop and shrunk (no viewport meta).
        self.assertEqual(self.driver.execute_script("return window.innerWidth"), self.width)
        self.assertTrue(self.find("#stream-search").is_displayed(), "#stream-search is not visible")
        self.assertTrue(self.find("#create-submit").is_displayed(), "#create-submit is not visible")
        self.assert_no_horizontal_scroll("07-phone")
        self.shot("07-phone")

        self.open_stream_from_list(self.name)
        psql(f"INSERT INTO {self.table} VALUES (2, 'tail-{long_item}', 2)")
        self.wait_in_tail(f"tail-{long_item}")
        self.wait(lambda: long_item in self.content(f'section.snapshot-table[data-table="{self.qualified}"]'),
                  what="the snapshot's row")
        self.assert_no_horizontal_scroll("07-phone-stream")
        self.shot("07-phone-stream")
        self.assert_no_severe_log()


if __name__ == "__main__":
    unittest.main()
