#!/usr/bin/env python3
"""A third workload, on assumptions neither `exfilwatch simulate` nor the shared validation workload makes.

  python3 tools/workloads/follow_the_sun.py OUTDIR [--seed 1] [--days 49]

Writes OUTDIR/events.jsonl (canonical JSON events) and OUTDIR/labels.json, which
../shared/eval/score.py reads. It was written after the detector's design was fixed and is not used
to tune it: it reports how the model carries to a differently shaped organisation.

What is different here:
- **No record keys anywhere.** Like most real proxies (pgAudit, Db2 and Oracle audit, MySQL audit
  logs) it gives row counts only; and a row is not a customer: a lookup returns one to four rows per
  customer (contacts, addresses).
- **Time zones.** A follow-the-sun support desk: APAC works 23:00-07:00 UTC (its day straddles UTC
  midnight), EMEA 07:00-15:00, AMER 14:00-22:00; a Gulf collections team works Sunday to Thursday.
  UTC days cut the APAC shift in two uneven halves.
- **Small teams.** Legal (4 people), collections (6), a 24x7 operations centre (8 people on four days
  on, four days off, so no weekly pattern).
- **Other benign surprises.** Month-end close (collections at 3x for two days), an outage day at a
  fifth followed by a backlog day at 2x (the whole APAC desk), a team's move to a new client
  application, a daylight-saving hour, a reporting service account and a nightly ETL job.

Attacks (labels.json: account, start, end, expect_within_ms):
  keyless_drift      an EMEA agent at ~180 rows/day adds 250 rows a day      (within 5 days)
  midnight_straddler an APAC agent reads 3x through four night shifts         (within 2 days)
  collusion          two of the six collections agents at 2.5x for five days  (within 3 days, each)
  chunked_export     an analyst exports 8 chunks of 5,000 rows to an external bucket (within 1 h)
  rota_insider       an operations-centre operator at 4x on its on-days      (within 3 days)
  small_team_grab    a legal counsel at 5x for two days                       (within 1 day)
  new_place_night    a dormant billing account reads 8,000 rows at 03:00 from a new address and
                     application                                             (within 1 h)
"""
import hashlib
import math
import random

import stream

DAY, HOUR, MIN = 86_400_000, 3_600_000, 60_000
EPOCH = 1_788_220_800_000  # 2026-09-01T00:00:00Z, a Tuesday


class Org:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.out = []
        self.n = 0

    def emit(self, t, acct, group, tables, rows, *, kind="QUERY", op="SELECT", ip, app, dest=None,
             nbytes=None, digest="lookup"):
        self.n += 1
        self.out.append({
            "event_id": f"fts-{self.n:010d}", "event_time": int(t), "kind": kind, "account": acct,
            "db_user": "svc_" + group, "source": "mysql-audit-ap1", "client_ip": ip, "client_app": app,
            "database": "crm", "tables": tables, "operation": op,
            "query_digest": "0x" + hashlib.sha1(digest.encode()).hexdigest()[:16],
            "rows": int(rows), "bytes": int(nbytes if nbytes is not None else rows * self.r.randint(200, 700)),
            "record_keys": None, "destination": dest, "peer_group": group, "success": True,
        })

    def shift(self, acct, group, day, customers, start_h, span_h, ip, app, tables):
        """`customers` looked up over a shift starting at `start_h` UTC (may pass midnight)."""
        t0 = EPOCH + day * DAY + int(start_h * HOUR)
        left = int(customers)
        while left > 0:
            k = 1 if self.r.random() < 0.75 else min(left, self.r.randint(2, 6))
            rows = sum(self.r.randint(1, 4) for _ in range(k))
            t = t0 + self.r.randrange(int(span_h * HOUR))
            table = tables[0] if self.r.random() < 0.7 else self.r.choice(tables)
            self.emit(t, acct, group, [table], rows, ip=ip, app=app, digest=f"{group}-{k > 1}")
            if self.r.random() < 0.1:
                self.emit(t + 2000, acct, group, ["kb.articles"], 5, ip=ip, app=app, digest="kb")
            left -= k


def lognormal(r, median, sigma):
    return median * math.exp(r.gauss(0, sigma))


def build(seed, days):
    o = Org(seed)
    r = o.r
    labels = {"attacks": [], "benign": [], "epoch_ms": EPOCH}
    people = []  # (account, group, level, start_h, span_h, works(day), ip, app, tables)
    weekday = lambda d: (d + 1) % 7 < 5  # EPOCH is a Tuesday: (d+1)%7 == 0 is Monday
    gulf_week = lambda d: (d + 2) % 7 < 5  # Sunday..Thursday
    support_tables = ["support.customers", "support.contacts", "support.tickets"]
    for region, start, n in (("apac", 23, 14), ("emea", 7, 18), ("amer", 14, 16)):
        for i in range(n):
            acct = f"{region}-{i:02d}"
            level = min(600, max(25, lognormal(r, 140, 0.6)))
            people.append([acct, f"support-{region}", level, start, 8, weekday, f"10.{ord(region[0])}.0.{i}",
                           "zendesk-bridge", support_tables])
    for i in range(6):
        people.append([f"collect-{i}", "collections", min(500, lognormal(r, 160, 0.4)), 5, 8, gulf_week,
                       f"10.77.0.{i}", "collector-ui", ["billing.customers", "billing.invoices"]])
    for i in range(4):
        people.append([f"legal-{i}", "legal", lognormal(r, 40, 0.5), 8, 9, weekday, f"10.88.0.{i}", "psql",
                       ["support.customers", "legal.cases"]])
    for i in range(8):
        on = lambda d, i=i: ((d + 2 * i) // 4) % 2 == 0  # four on, four off, staggered
        people.append([f"noc-{i}", "operations", lognormal(r, 90, 0.4), 6 + 12 * (i % 2), 11, on,
                       f"10.99.0.{i}", "noc-console", ["support.customers", "ops.devices"]])
    for i in range(5):
        people.append([f"analyst-{i}", "analytics", lognormal(r, 300, 0.5), 9, 7, weekday, f"10.66.0.{i}",
                       "metabase", ["billing.customers", "analytics.usage"]])
    billing_dormant = "billing-old-7"
    people.append([billing_dormant, "analytics", 200, 9, 7, lambda d: weekday(d) and d < 20, "10.66.0.77",
                   "metabase", ["billing.customers"]])

    by = {p[0]: p for p in people}
    drift = "emea-03"
    by[drift][2] = 180
    straddler = "apac-05"
    colluders = ["collect-1", "collect-4"]
    rota = "noc-3"
    counsel = "legal-2"
    analyst = "analyst-2"

    outage_day, backlog_day = 24, 25
    close_days = {29, 30}  # month-end close (Sept 30 = day 29)
    collusion_from = 40  # a Sunday: the collections week runs Sunday to Thursday
    straddled = [30, 31, 34, 35]  # four APAC night shifts from Thursday 23:00 (none start on a weekend)
    new_app_from = 35  # AMER moves to a new client application
    dst_from = 40  # EMEA's shift starts an hour earlier

    for d in range(days):
        for acct, group, level, start, span, works, ip, app, tables in people:
            if not works(d):
                continue
            f = math.exp(r.gauss(0, 0.3))
            if group == "support-apac" and d == outage_day:
                f *= 0.2
            if group == "support-apac" and d == backlog_day:
                f *= 2.0
            if group == "collections" and d in close_days:
                f *= 3.0
            if group == "support-amer" and d >= new_app_from:
                app = "zendesk-bridge-v2"
            if group == "support-emea" and d >= dst_from:
                start = start - 1
            extra = 0
            if acct == drift and d >= 20:
                extra = 250
            if acct == straddler and d in straddled:
                f *= 3.0
            if acct in colluders and collusion_from <= d < collusion_from + 7:  # five Gulf working days
                f *= 2.5
            if acct == rota and d >= 33:
                f *= 4.0
            if acct == counsel and d in (36, 37):
                f *= 5.0
            o.shift(acct, group, d, level * f + extra, start, span, ip, app, tables)
        # A reporting service account: a few big queries every weekday afternoon.
        if weekday(d):
            for k in range(4):
                o.emit(EPOCH + d * DAY + (15 + k) * HOUR + r.randrange(HOUR), "svc-reporting", "services",
                       ["billing.customers"], int(lognormal(r, 20000, 0.2)), ip="10.5.0.2", app="reporter",
                       digest=f"report-{k}")
        # The nightly ETL to the warehouse.
        t = EPOCH + d * DAY + 2 * HOUR + r.randrange(15 * MIN)
        rows = int(lognormal(r, 250000, 0.1))
        o.emit(t, "svc-etl", "services", ["billing.customers", "support.customers"], rows, ip="10.5.0.3",
               app="airflow", digest="etl")
        o.emit(t + 20 * MIN, "svc-etl", "services", ["billing.customers", "support.customers"], rows,
               kind="EXPORT", op="COPY", ip="10.5.0.3", app="airflow", dest="s3://corp-warehouse/nightly/",
               nbytes=rows * 400, digest="etl-export")
        # Analysts' ordinary exports to the warehouse, a few a week.
        for i in range(5):
            if weekday(d) and r.random() < 0.3:
                rows = int(lognormal(r, 3000, 0.6))
                o.emit(EPOCH + d * DAY + 12 * HOUR + r.randrange(3 * HOUR), f"analyst-{i}", "analytics",
                       ["analytics.usage", "billing.customers"], rows, kind="EXPORT", op="COPY",
                       ip=f"10.66.0.{i}", app="metabase", dest="s3://corp-warehouse/adhoc/", nbytes=rows * 300,
                       digest="adhoc-export")

    # chunked_export: day 44 (a Monday... whatever the day), 13:00 UTC, eight chunks ten minutes apart.
    t = EPOCH + 44 * DAY + 13 * HOUR
    for k in range(8):
        o.emit(t + k * 10 * MIN, analyst, "analytics", ["billing.customers"], 5000, kind="EXPORT", op="COPY",
               ip="10.66.0.2", app="metabase", dest="s3://tmp-share-4471.example.net/q/", nbytes=5000 * 350,
               digest="export-chunk")
    labels["attacks"].append({"name": "chunked_export", "account": analyst, "start": t, "end": t + 80 * MIN,
                              "expect_within_ms": HOUR})
    # new_place_night: the dormant account, 03:00 UTC on day 42, a new address and application.
    t = EPOCH + 42 * DAY + 3 * HOUR
    for k in range(16):
        o.emit(t + k * 2 * MIN, billing_dormant, "analytics", ["billing.customers"], 500, ip="172.31.9.14",
               app="DBeaver", digest="dump")
    labels["attacks"].append({"name": "new_place_night", "account": billing_dormant, "start": t,
                              "end": t + 32 * MIN, "expect_within_ms": HOUR})
    labels["attacks"].append({"name": "keyless_drift", "account": drift, "start": EPOCH + 20 * DAY,
                              "end": EPOCH + days * DAY, "expect_within_ms": 5 * DAY})
    labels["attacks"].append({"name": "midnight_straddler", "account": straddler,
                              "start": EPOCH + straddled[0] * DAY + 23 * HOUR,
                              "end": EPOCH + straddled[-1] * DAY + 31 * HOUR,
                              "expect_within_ms": 2 * DAY})
    for c in colluders:
        labels["attacks"].append({"name": f"collusion_{c}", "account": c, "start": EPOCH + collusion_from * DAY + 5 * HOUR,
                                  "end": EPOCH + (collusion_from + 4) * DAY + 13 * HOUR, "expect_within_ms": 3 * DAY})
    labels["attacks"].append({"name": "rota_insider", "account": rota, "start": EPOCH + 33 * DAY,
                              "end": EPOCH + days * DAY, "expect_within_ms": 3 * DAY})
    labels["attacks"].append({"name": "small_team_grab", "account": counsel, "start": EPOCH + 36 * DAY + 8 * HOUR,
                              "end": EPOCH + 37 * DAY + 17 * HOUR, "expect_within_ms": DAY})
    labels["benign"] = [
        {"name": "apac_outage_then_backlog", "group": "support-apac", "days": [outage_day, backlog_day]},
        {"name": "month_end_close", "group": "collections", "days": sorted(close_days)},
        {"name": "new_client_application", "group": "support-amer", "from_day": new_app_from},
        {"name": "daylight_saving_hour", "group": "support-emea", "from_day": dst_from},
        {"name": "reporting_and_etl_services", "accounts": ["svc-reporting", "svc-etl"]},
        {"name": "rota_without_weekly_pattern", "group": "operations"},
    ]
    o.out.sort(key=lambda e: (e["event_time"], e["event_id"]))
    return o.out, labels


if __name__ == "__main__":
    stream.generate(__doc__, build, days=49)
