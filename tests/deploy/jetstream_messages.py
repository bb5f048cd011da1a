#!/usr/bin/env python3
"""What tests/deploy/containers.sh read back from JetStream (jetstream-read's JSON lines,
one a message: subject, stream_seq, headers, data), checked against what it inserted into
a v2 stream's table:

  jetstream_messages.py FILE --stream orders_sync --table public.orders --column total
                        --first 1001 --count 50 --transactions 5 [--extra public.customers=1]

Every number first..first+count-1 of COLUMN arrives exactly once, as an insert on
<prefix>.<stream>.<schema>.<table>; --extra TABLE=N: N messages on that table's subject;
<prefix>.<stream>._tx has one begin and one commit for each transaction, paired by xid;
each row lies between a begin and its commit and carries its xid (Deltastream-Xid); the
commits' changes add up to the rows; nothing on any other subject, no Nats-Msg-Id twice.
Prints what it found; exits 1 on a mismatch.
Standard library only (the host's python3)."""

import argparse
import collections
import json
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("file")
    parser.add_argument("--prefix", default="deltastream")
    parser.add_argument("--stream", required=True)
    parser.add_argument("--table", required=True, help="schema.table of the numbered rows")
    parser.add_argument("--column", required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--transactions", type=int, required=True)
    parser.add_argument("--extra", action="append", default=[], help="schema.table=N")
    args = parser.parse_args()

    problems = []
    messages = []
    with open(args.file, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                message = json.loads(line)
                message["event"] = json.loads(message["data"])
            except (ValueError, KeyError) as error:
                problems.append(f"line {number} is not a message with a JSON event: {error}: {line.strip()[:200]}")
                continue
            messages.append(message)
    print(f"{len(messages)} messages")

    base = f"{args.prefix}.{args.stream}"
    numbered_subject = f"{base}.{args.table}"
    expected_rows = {numbered_subject: args.count}
    for extra in args.extra:
        table, count = extra.split("=")
        expected_rows[f"{base}.{table}"] = int(count)

    by_subject = collections.defaultdict(list)
    for message in messages:
        by_subject[message["subject"]].append(message)
    for subject, group in sorted(by_subject.items()):
        print(f"  {subject}: {len(group)}")

    # The numbered rows: each exactly once.
    seen = collections.Counter()
    for message in by_subject.get(numbered_subject, []):
        event = message["event"]
        if event.get("op") != "insert" or event.get("table") != args.table:
            problems.append(f"{numbered_subject}: not an insert into {args.table}: {message['data']}")
            continue
        value = (event.get("new") or {}).get(args.column)
        if not isinstance(value, (int, float)) or value != int(value):
            problems.append(f"{numbered_subject}: {args.column} is not a whole number: {message['data']}")
            continue
        seen[int(value)] += 1
    wanted = set(range(args.first, args.first + args.count))
    missing = sorted(wanted - set(seen))
    twice = sorted(n for n, times in seen.items() if times > 1)
    unknown = sorted(set(seen) - wanted)
    if missing:
        problems.append(f"{len(missing)} rows never arrived ({args.column}: {missing[:20]}…)")
    if twice:
        problems.append(f"{len(twice)} rows arrived more than once ({args.column}: {twice[:20]}…)")
    if unknown:
        problems.append(f"rows nobody inserted ({args.column}: {unknown[:20]}…)")
    if not (missing or twice or unknown):
        print(f"  {args.column} {args.first}..{args.first + args.count - 1}: each exactly once on {numbered_subject}")

    for subject, count in expected_rows.items():
        got = len(by_subject.get(subject, []))
        if got != count:
            problems.append(f"{subject}: {got} messages, expected {count}")

    # Transactions: begin and commit on <base>._tx, paired by xid.
    tx_subject = f"{base}._tx"
    begins, commits = {}, {}
    for message in by_subject.get(tx_subject, []):
        event = message["event"]
        op = event.get("op")
        if op not in ("begin", "commit"):
            problems.append(f"{tx_subject}: neither begin nor commit: {message['data']}")
            continue
        table = begins if op == "begin" else commits
        if event.get("xid") in table:
            problems.append(f"{tx_subject}: a second {op} of xid {event.get('xid')}")
        table[event.get("xid")] = message
    if len(begins) != args.transactions or set(begins) != set(commits):
        problems.append(f"{tx_subject}: begins of xids {sorted(begins, key=str)}, commits of "
                        f"{sorted(commits, key=str)}; expected {args.transactions} of each, paired")
    for xid in set(begins) & set(commits):
        if begins[xid]["stream_seq"] > commits[xid]["stream_seq"]:
            problems.append(f"{tx_subject}: the commit of xid {xid} was stored before its begin")
    # Each row inside its transaction: between a begin and its commit, and with that
    # transaction's xid in its Deltastream-Xid header.
    spans = [(begins[x]["stream_seq"], commits[x]["stream_seq"], x) for x in set(begins) & set(commits)]
    for subject in expected_rows:
        for message in by_subject.get(subject, []):
            seq = message["stream_seq"]
            span = [xid for first, last, xid in spans if first < seq < last]
            header = (message.get("headers") or {}).get("Deltastream-Xid")
            if not span:
                problems.append(f"{subject}: stream_seq {seq} is outside every begin..commit")
            elif header != str(span[0]):
                problems.append(f"{subject}: stream_seq {seq} in xid {span[0]}'s transaction, Deltastream-Xid {header}")
    changes = sum(m["event"].get("changes", 0) for m in commits.values())
    rows = sum(expected_rows.values())
    if changes != rows:
        problems.append(f"{tx_subject}: the commits count {changes} changes, {rows} rows were inserted")
    elif len(begins) == args.transactions:
        print(f"  {tx_subject}: {len(begins)} begins and commits, paired by xid, {changes} changes")

    others = sorted(set(by_subject) - set(expected_rows) - {tx_subject})
    if others:
        problems.append(f"messages on other subjects: {others}")
    ids = collections.Counter((m.get("headers") or {}).get("Nats-Msg-Id") for m in messages)
    ids.pop(None, None)
    repeated = [i for i, times in ids.items() if times > 1]
    if repeated:
        problems.append(f"Nats-Msg-Id stored more than once: {repeated[:10]}")

    for problem in problems:
        print("  " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
