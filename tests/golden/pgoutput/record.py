#!/usr/bin/env python3
"""Records the golden files of the pgoutput decoder's unit test from a real PostgreSQL.

    /usr/bin/python3 tests/golden/pgoutput/record.py "host=... port=... dbname=..."

needs a superuser on a cluster with wal_level=logical and wal2json (./deploy/local-postgres.sh
makes one). It runs setup.sql, then changes.sql with a pgoutput slot and a wal2json slot
watching, and writes what each plugin sent for the same transactions:
  messages.tsv   pgoutput's messages (proto_version 1, messages on): LSN, then the bytes in hex
  types.tsv      format_type(oid, typmod) for every column type its Relation messages name
  expected.ndjson  wal2json's format-version 1 messages (include-lsn), one per line,
                 the transactions with changes only (what the reader publishes)
"""
import os
import struct
import sys

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
KEYED = ["everything", "big_docs", "full_identity", "by_index", "composite_key", '"Mixed Case"', "reshaped"]


def statements(path):
    with open(os.path.join(HERE, path)) as source:
        for line in source:
            if line.strip() and not line.startswith("--"):
                yield line


def relation_types(message):
    """(oid, typmod) of each column of a Relation message: see pgoutput_decoder.cpp."""
    at = 5  # 'R', Int32 relation id
    for _ in range(2):  # namespace, name
        at = message.index(b"\0", at) + 1
    at += 1  # replica identity
    (count,) = struct.unpack_from(">h", message, at)
    at += 2
    for _ in range(count):
        at += 1  # flags
        at = message.index(b"\0", at) + 1
        oid, typmod = struct.unpack_from(">Ii", message, at)
        at += 8
        yield oid, typmod


def main(dsn):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name IN ('golden_pgoutput', 'golden_wal2json')")
    cur.execute("DROP PUBLICATION IF EXISTS golden, golden_keyed")
    with open(os.path.join(HERE, "setup.sql")) as setup:
        cur.execute(setup.read())
    # The publications the reader makes (publication_setup.cpp): INSERTs of every table,
    # UPDATEs and DELETEs of the tables with a replica identity.
    cur.execute("CREATE PUBLICATION golden FOR ALL TABLES WITH (publish = 'insert')")
    cur.execute("CREATE PUBLICATION golden_keyed FOR TABLE " + ", ".join("golden." + t for t in KEYED) +
                " WITH (publish = 'update, delete')")
    cur.execute("SELECT pg_create_logical_replication_slot('golden_pgoutput', 'pgoutput')")
    cur.execute("SELECT pg_create_logical_replication_slot('golden_wal2json', 'wal2json')")
    for statement in statements("changes.sql"):
        cur.execute(statement)

    cur.execute("SELECT lsn::text, data FROM pg_logical_slot_peek_binary_changes('golden_pgoutput', NULL, NULL, "
                "'proto_version', '1', 'publication_names', 'golden,golden_keyed', 'messages', 'true')")
    messages = [(lsn, bytes(data)) for lsn, data in cur.fetchall()]
    keys = sorted({key for _, data in messages if data[:1] == b"R" for key in relation_types(data)})
    cur.execute("SELECT t.oid, t.typmod, format_type(t.oid, t.typmod) "
                "FROM unnest(%s::oid[], %s::int4[]) AS t(oid, typmod)",
                ([k[0] for k in keys], [k[1] for k in keys]))
    types = cur.fetchall()
    cur.execute("SELECT data FROM pg_logical_slot_peek_changes('golden_wal2json', NULL, NULL, "
                "'format-version', '1', 'include-lsn', 'on')")
    expected = [data for (data,) in cur.fetchall()
                if data.startswith('{"nextlsn"') and not data.endswith('"change":[]}')]

    with open(os.path.join(HERE, "messages.tsv"), "w") as out:
        out.writelines(f"{lsn}\t{data.hex()}\n" for lsn, data in messages)
    with open(os.path.join(HERE, "types.tsv"), "w") as out:
        out.writelines(f"{oid}\t{typmod}\t{name}\n" for oid, typmod, name in types)
    with open(os.path.join(HERE, "expected.ndjson"), "w", encoding="utf-8") as out:
        out.writelines(line + "\n" for line in expected)

    cur.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                "WHERE slot_name IN ('golden_pgoutput', 'golden_wal2json')")
    cur.execute("DROP PUBLICATION golden, golden_keyed")
    cur.execute("DROP SCHEMA golden, golden_hidden CASCADE")
    cur.execute("DROP TYPE public.golden_level")
    print(f"{len(messages)} pgoutput messages, {len(types)} types, {len(expected)} wal2json messages")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.environ["PGTEST_DSN"])
