#!/usr/bin/env python3
"""Adds three egress attacks to a recorded stream (for example the shared validation workload), on
assumptions the other workloads do not make: data leaves in pieces too small for any one export to
matter, or through a destination the organisation uses, by an account whose team never exports.

  python3 tools/workloads/egress_variants.py SRC_DIR OUT_DIR [--seed 1]

SRC_DIR holds events.jsonl and labels.json (../shared/score.py's format); OUT_DIR gets both, with:
  export_drip         an agent mails 2 x 40 customer rows a working day for two weeks to a personal
                      address nobody else uses (each export far below any floor)   (within 3 days)
  foreign_export_50k  an agent of a team that never exports copies 50,000 customer rows to the
                      company's warehouse (a destination the organisation uses)      (within 1 day)
  foreign_export_5k   another agent of that team, 5,000 rows, from another address  (within 1 day)

Accounts are picked from the stream: the most active accounts of the largest group that never exports.
Everything else in the stream is kept as it was.
"""
import argparse, collections, copy, json, os, random

DAY, HOUR = 86_400_000, 3_600_000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    with open(os.path.join(a.src, "events.jsonl")) as f:
        events = [json.loads(line) for line in f]
    with open(os.path.join(a.src, "labels.json")) as f:
        labels = json.load(f)
    start = min(e["event_time"] for e in events)
    end = max(e["event_time"] for e in events)
    days = (end - start) // DAY
    attacked = {x["account"] for x in labels.get("attacks", [])}
    exporters = {e.get("peer_group") for e in events if e["kind"] == "EXPORT"}
    reads = collections.Counter()
    group_of = {}
    for e in events:
        if e["kind"] == "QUERY" and e.get("peer_group") and e["account"] not in attacked:
            reads[e["account"]] += 1
            group_of[e["account"]] = e["peer_group"]
    sizes = collections.Counter(group_of[x] for x in reads)
    group = max((g for g in sizes if g not in exporters), key=lambda g: sizes[g])
    members = [x for x, _ in reads.most_common() if group_of[x] == group]
    drip, big, small = members[5], members[6], members[7]
    like = {x: next(e for e in events if e["account"] == x and e["kind"] == "QUERY") for x in (drip, big, small)}
    warehouse = next(e["destination"] for e in events if e["kind"] == "EXPORT" and e.get("destination"))
    added = []

    def export(account, t, rows, destination, ip=None):
        e = copy.deepcopy(like[account])
        e.update({"event_id": f"egress-{len(added):06d}", "event_time": int(t), "kind": "EXPORT",
                  "operation": "COPY", "rows": rows, "bytes": rows * 600, "record_keys": None,
                  "destination": destination})
        if ip:
            e["client_ip"] = ip
        added.append(e)
        return e

    first = start // DAY * DAY + (days // 2) * DAY
    drip_days = [d for d in range(first, first + 14 * DAY, DAY) if (d // DAY + 3) % 7 < 5]  # epoch day 0 is a Thursday
    for d in drip_days:
        for hour in (10, 14):
            export(drip, d + hour * HOUR + r.randrange(HOUR), 40, f"smtp://mail.example-personal.com/{drip}")
    labels["attacks"].append({"name": "export_drip", "account": drip, "start": drip_days[0],
                              "end": drip_days[-1] + DAY, "expect_within_ms": 3 * DAY})
    for name, account, day, rows, ip in (("foreign_export_50k", big, days // 2 + 2, 50_000, None),
                                         ("foreign_export_5k", small, days // 2 + 3, 5_000, "10.1.77.7")):
        t = start // DAY * DAY + day * DAY + 15 * HOUR
        export(account, t, rows, warehouse.rsplit("/", 2)[0] + "/tmp/", ip)
        labels["attacks"].append({"name": name, "account": account, "start": t, "end": t,
                                  "expect_within_ms": DAY})
    events.extend(added)
    events.sort(key=lambda e: e["event_time"])
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "events.jsonl"), "w") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    with open(os.path.join(a.out, "labels.json"), "w") as f:
        json.dump(labels, f)
    print(f"{len(added)} events added: drip by {drip}, exports by {big} and {small} of {group}")


if __name__ == "__main__":
    main()
