"""Single-row transactions at a fixed rate, each row carrying its send time in
nanoseconds (CLOCK_REALTIME, Python's time.time_ns(): the clock the consumers read on
this same machine), written by deltastream-bench-writer (paced_writer.cpp): two Python
writer processes cost about a quarter of a core at 5,000 transactions/s, CPU that the
walsender under test then lacked on a 2-core machine."""

import subprocess


def create_table(pg, table):
    pg.sql(f"DROP TABLE IF EXISTS {table}")
    pg.sql(f"CREATE TABLE {table} (id bigserial PRIMARY KEY, sent bigint NOT NULL)")


def paced_writes(writer_bin, dsn, table, rate, seconds):
    """Blocks for about `seconds`; returns (transactions written, achieved rate)."""
    done = subprocess.run([writer_bin, dsn, table, str(rate), str(seconds)], capture_output=True,
                          text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise RuntimeError(f"{writer_bin} exited with {done.returncode}: {done.stderr.strip()}")
    words = done.stdout.split()  # "written N rate R"
    return int(words[1]), float(words[3])
