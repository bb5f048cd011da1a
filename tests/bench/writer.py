"""Single-row transactions at a fixed rate, each row carrying its send time
(time.time_ns(), the clock the receivers read on this same machine). One connection
commits a few thousand transactions a second, so higher rates use several processes,
each taking every W-th slot of one schedule."""

import math
import multiprocessing
import time

import psycopg2

PER_WRITER = 2500  # transactions/s one Python connection sustains with room to spare


def create_table(pg, table):
    pg.sql(f"DROP TABLE IF EXISTS {table}")
    pg.sql(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, sent bigint NOT NULL)")


def _write(dsn, table, rate, seconds, index, writers, start_at, counts):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"PREPARE ins(bigint) AS INSERT INTO {table} (sent) VALUES ($1)")
    total = int(rate * seconds)
    while time.time() < start_at:
        time.sleep(0.001)
    begin = time.perf_counter()
    done = 0
    for slot in range(index, total, writers):
        due = begin + slot / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        cur.execute("EXECUTE ins(%s)", (time.time_ns(),))
        done += 1
    counts[index] = done
    conn.close()


def paced_writes(dsn, table, rate, seconds):
    """Blocks for about `seconds`; returns (transactions written, achieved rate)."""
    writers = max(1, math.ceil(rate / PER_WRITER))
    context = multiprocessing.get_context("spawn")
    counts = context.Array("l", writers)
    start_at = time.time() + 1.0  # after every process has started and connected
    processes = [context.Process(target=_write, args=(dsn, table, rate, seconds, i, writers, start_at, counts))
                 for i in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(f"writer exited with {process.exitcode}")
    elapsed = time.time() - start_at
    written = sum(counts)
    return written, written / elapsed
