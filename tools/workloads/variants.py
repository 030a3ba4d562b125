#!/usr/bin/env python3
"""Derives a variant of a recorded, labelled stream, on one assumption the stream itself does not make.
These are the streams of README Evaluation, sections 4-6.

  python3 tools/workloads/variants.py SRC_DIR OUT_DIR MODE

SRC_DIR holds events.jsonl and labels.json (../shared/eval/score.py's format); OUT_DIR gets both. MODE:
  no-keys    record_keys removed from every event, rows kept (what most proxies send)
  no-rows    rows and record_keys removed (Teleport, MariaDB server_audit, pgaudit without log_rows):
             reads are then counted in statements
  no-groups  peer_group removed: groups are learned from behaviour
  one-table  no peer_group, and the support and billing customer tables renamed to one crm.customers
             read through one application, so that the two teams are one learned group
  tz+H/tz-H  every event and label time moved H hours (an organisation in another time zone)

Everything else in the stream is kept as it was.
"""
import json
import os
import sys

HOUR = 3_600_000
CUSTOMER_TABLES = ("support.customers", "billing.customers")


def transform(event, mode, shift):
    if shift:
        event["event_time"] += shift
    if mode in ("no-keys", "no-rows"):
        event.pop("record_keys", None)
    if mode == "no-rows":
        event.pop("rows", None)
    if mode in ("no-groups", "one-table"):
        event.pop("peer_group", None)
    if mode == "one-table":
        event["tables"] = ["crm.customers" if t in CUSTOMER_TABLES else t for t in event.get("tables", [])]
        if event.get("client_app") and "crm.customers" in event["tables"]:
            event["client_app"] = "crm-app"
    return event


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, dst, mode = sys.argv[1:]
    shift = 0
    if mode.startswith("tz"):
        try:
            shift = int(mode[2:]) * HOUR
        except ValueError:
            sys.exit(f"variants: {mode}: a time zone is tz+H or tz-H")
    elif mode not in ("no-keys", "no-rows", "no-groups", "one-table"):
        sys.exit(f"variants: unknown mode {mode}\n\n{__doc__}")
    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "events.jsonl")) as f, open(os.path.join(dst, "events.jsonl"), "w") as g:
        for line in f:
            event = transform(json.loads(line), mode, shift)
            g.write(json.dumps(event, separators=(",", ":")) + "\n")
    with open(os.path.join(src, "labels.json")) as f:
        labels = json.load(f)
    if shift:
        for attack in labels.get("attacks", []):
            attack["start"] += shift
            attack["end"] += shift
        if "epoch_ms" in labels:
            labels["epoch_ms"] += shift
    with open(os.path.join(dst, "labels.json"), "w") as f:
        json.dump(labels, f)


if __name__ == "__main__":
    main()
