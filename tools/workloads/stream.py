"""What every generator here shares: its command line and how it writes a labelled stream.

A stream is OUTDIR/events.jsonl (canonical JSON events, one a line, in time order) and
OUTDIR/labels.json (what ../shared/eval/score.py reads).
"""
import argparse
import json
import os


def write(outdir, events, labels):
    """Writes `events` and `labels` into `outdir` (created if missing)."""
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "events.jsonl"), "w") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    with open(os.path.join(outdir, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    print(f"{len(events)} events, {len(labels['attacks'])} attacks -> {outdir}")


def generate(doc, build, days):
    """The command line of a generator: OUTDIR [--seed N] [--days D]; `build(seed, days)` returns
    (events, labels)."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--days", type=int, default=days)
    a = ap.parse_args()
    events, labels = build(a.seed, a.days)
    write(a.outdir, events, labels)
