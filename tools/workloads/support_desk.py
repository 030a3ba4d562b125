#!/usr/bin/env python3
"""A fourth workload: a support desk whose people do not behave like anyone else's generator's.

  python3 tools/workloads/support_desk.py OUTDIR [--seed 1] [--days 35]

Writes OUTDIR/events.jsonl (canonical JSON events) and OUTDIR/labels.json, which
../shared/eval/score.py reads. Written on 2026-12-08, after the detector's design was fixed, from
assumptions that neither `exfilwatch simulate`, the shared validation workload nor
`follow_the_sun.py` makes; it is not used to tune the detector.

What is different here:
- **Heavy tails.** A person's day is drawn from a Student t with 4 degrees of freedom on the log scale
  (spread 0.25), not a normal: an innocent day at three times normal happens about once a year a
  person, not once a millennium.
- **A weekly rhythm per person.** Mondays run 25 % above the week, Fridays 20 % below, and each person
  has a weekday profile of their own (a lead who reviews the week's tickets on Mondays, say).
- **A business that grows.** Every volume rises 0.8 % a day (a seasonal ramp: a third more by the
  end): every level lags behind its owner, innocent or not.
- **Short history.** 35 days, starting on a Thursday; attacks from the third week.
- **Re-reads.** An agent opens the same customer several times a day (follow-ups): distinct customers
  are fewer than lookups, and the attacker's customers are new ones.
- **Heavy normal readers.** A triage team reads 1,500–1,800 different customers a day in list views of
  10–40, seven days a week, with incident days at 1.5× for the whole team.
- **Part-timers.** A sixth of tier 1 works Monday, Wednesday and Friday only.
- **Two sources.** Support's proxy sends record keys and peer groups; billing's (an Oracle audit
  trail) sends row counts only, two rows a customer, and no peer group.
- **Benign surprises.** An outage day at 15 % then a backlog day at 1.7× (all support); a product
  launch week at 1.6× (tier 2); an agent promoted from tier 1 to tier 2 (three times the reads, a new
  group); a week's holiday; a new hire ramping up; a scheduled integration account.

Attacks (labels.json: account, start, end, expect_within_ms):
  slow_reader      a tier-1 agent at ~150 a day adds 250 new customers a day          (within 4 days)
  heavy_creep      a triage reader at ~1,650 a day adds 1,100 a day                   (within 5 days)
  offday_home      a part-timer reads twice their day on their days off, evenings,
                   from a new address                                                  (within 1 day)
  new_hire_grab    a new hire, two weeks in, reads six times the tier-1 median a day   (within 1 day)
  table_sweep      a tier-2 agent reads twice their day across every sensitive table
                   for four days                                                       (within 3 days)
  drip_export      a billing clerk mails 1,500 rows a day to a personal address, five
                   days                                                                (within 1 day)
  token_theft      the integration account reads 80,000 rows from a new address at
                   02:00 in half an hour                                               (within 1 h)
  weekend_bulk     a tier-1 agent on a Saturday shift reads 2,500 customers            (within 1 day)
"""
import hashlib
import math
import random

import stream

DAY, HOUR, MIN = 86_400_000, 3_600_000, 60_000
EPOCH = 1_790_812_800_000  # 2026-10-01T00:00:00Z, a Thursday
CUSTOMERS = 2_000_000
SENSITIVE = ["support.customers", "support.tickets", "crm.customer_contacts"]
SWEEP = SENSITIVE + ["billing.customers", "crm.addresses_customers"]


def weekday_of(d):
    """0 = Monday .. 6 = Sunday; day 0 is a Thursday."""
    return (d + 3) % 7


def student_t(r, dof):
    z = r.gauss(0, 1)
    chi2 = sum(r.gauss(0, 1) ** 2 for _ in range(dof))
    return z / math.sqrt(chi2 / dof)


class Org:
    def __init__(self, seed):
        self.r = random.Random(seed)
        self.out = []
        self.n = 0

    def emit(self, t, acct, tables, rows, *, group=None, source="pgproxy-support", keys=None, kind="QUERY",
             op="SELECT", ip, app, dest=None, nbytes=None, digest="lookup"):
        self.n += 1
        self.out.append({
            "event_id": f"sd-{self.n:010d}", "event_time": int(t), "kind": kind, "account": acct,
            "db_user": acct.split("-")[0], "source": source, "client_ip": ip, "client_app": app,
            "database": "support" if source == "pgproxy-support" else "BILLPRD", "tables": tables,
            "operation": op, "query_digest": "0x" + hashlib.sha256(digest.encode()).hexdigest()[:16],
            "rows": int(rows), "bytes": int(nbytes if nbytes is not None else rows * self.r.randint(300, 800)),
            "record_keys": keys, "destination": dest, "peer_group": group, "success": True,
        })

    def customers(self, n):
        return [f"K{self.r.randrange(CUSTOMERS):07d}" for _ in range(n)]

    def support_day(self, acct, group, day, n, start_h, span_h, ip, app, batch=(1, 1), tables=SENSITIVE):
        """`n` different customers, each opened one or more times, in lookups of `batch` customers."""
        t0 = EPOCH + day * DAY + int(start_h * HOUR)
        todo = self.customers(int(n))
        seen = []
        while todo:
            k = min(len(todo), self.r.randint(*batch))
            keys, todo = todo[:k], todo[k:]
            seen.extend(keys)
            t = t0 + self.r.randrange(int(span_h * HOUR))
            table = tables[0] if self.r.random() < 0.6 else self.r.choice(tables)
            self.emit(t, acct, [table], k, group=group, keys=keys, ip=ip, app=app, digest=f"{group}-{k}")
            if self.r.random() < 0.4:  # a follow-up on a customer already open today
                again = self.r.choice(seen)
                self.emit(t + self.r.randrange(2 * HOUR), acct, ["support.tickets"], 1, group=group, keys=[again],
                          ip=ip, app=app, digest="follow-up")

    def billing_day(self, acct, day, n, ip, app="sqlplus-forms"):
        """`n` customers through the billing source: rows only (two a customer), no keys, no group."""
        t0 = EPOCH + day * DAY + 8 * HOUR
        left = int(n)
        while left > 0:
            k = min(left, self.r.randint(1, 8))
            t = t0 + self.r.randrange(8 * HOUR)
            self.emit(t, acct, ["BILLING.CUSTOMERS"], 2 * k, source="oracle-audit-billing", ip=ip, app=app,
                      digest=f"bill-{k}")
            left -= k


def build(seed, days):
    o = Org(seed)
    r = o.r
    labels = {"attacks": [], "benign": [], "epoch_ms": EPOCH}
    rhythm = {0: 1.25, 4: 0.8}  # Monday, Friday
    people = []  # dicts

    def person(acct, group, level, start_h, span_h, works, ip, app, kind="support", batch=(1, 1)):
        profile = [math.exp(r.gauss(0, 0.12)) for _ in range(7)]
        people.append(dict(acct=acct, group=group, level=level, start=start_h, span=span_h, works=works, ip=ip,
                           app=app, kind=kind, batch=batch, profile=profile))

    weekdays = lambda d: weekday_of(d) < 5
    part_time = lambda d: weekday_of(d) in (0, 2, 4)
    for i in range(60):
        works = part_time if i % 6 == 5 else weekdays
        person(f"t1-{i:02d}", "tier1", min(400, max(40, 120 * math.exp(r.gauss(0, 0.5)))), 7, 9, works,
               f"10.20.1.{i}", "desk-web")
    for i in range(25):
        person(f"t2-{i:02d}", "tier2", min(900, max(120, 350 * math.exp(r.gauss(0, 0.4)))), 7.5, 9, weekdays,
               f"10.20.2.{i}", "desk-web")
    for i in range(10):
        person(f"tri-{i}", "triage", r.uniform(1500, 1800), 6 + 8 * (i % 2), 8, lambda d: True,
               f"10.20.3.{i}", "triage-console", batch=(10, 40))
    for i in range(15):
        person(f"bill-{i:02d}", None, min(500, max(50, 180 * math.exp(r.gauss(0, 0.4)))), 8, 8, weekdays,
               f"10.30.0.{i}", "sqlplus-forms", kind="billing")
    by = {p["acct"]: p for p in people}

    # The weekend rota: a fifth of tier 1 works each weekend day, 10:00-16:00.
    weekend_crew = {d: set(r.sample([p["acct"] for p in people if p["group"] == "tier1"], 12))
                    for d in range(days) if weekday_of(d) >= 5}

    slow = "t1-07"
    by[slow]["level"] = 150
    creep = "tri-3"
    offday = "t1-11"  # 11 % 6 == 5: a part-timer
    new_hire = "t1-new"
    person(new_hire, "tier1", 120, 7, 9, lambda d: weekdays(d) and d >= 9, "10.20.1.200", "desk-web")
    sweeper = "t2-04"
    clerk = "bill-06"
    weekend_agent = "t1-19"
    promoted = "t1-23"
    holiday = "t2-10"
    ramp_hire = "t2-new"
    person(ramp_hire, "tier2", 350, 7.5, 9, lambda d: weekdays(d) and d >= 5, "10.20.2.200", "desk-web")

    outage, backlog = 12, 13  # a Tuesday and a Wednesday
    launch = set(range(18, 23))  # Monday to Friday of the fourth week
    incident_days = {d for d in range(days) if r.random() < 0.1}
    slow_from, creep_from = 19, 20
    offdays = [26, 28]  # Tuesday and Thursday evenings
    grab_days = [25, 26]  # Monday and Tuesday of the new hire's third week
    sweep_days = [27, 28, 29, 30]  # Wednesday to Saturday (worked in the evening at the weekend)
    drip_days = [25, 26, 27, 28, 29]  # Monday to Friday
    weekend_grab_day = 30  # a Saturday
    weekend_crew[weekend_grab_day].add(weekend_agent)
    promoted_from = 16

    for d in range(days):
        trend = 1.008 ** d
        wd = weekday_of(d)
        for p in people:
            acct, group = p["acct"], p["group"]
            weekend_shift = wd >= 5 and acct in weekend_crew.get(d, ())
            if not (p["works"](d) or weekend_shift):
                continue
            if acct == holiday and 21 <= d < 28:
                continue
            if r.random() < 0.04:  # a sick day
                continue
            f = trend * rhythm.get(wd, 1.0) * p["profile"][wd] * math.exp(0.25 * student_t(r, 4))
            start, span = p["start"], p["span"]
            if weekend_shift and group == "tier1":
                f *= 0.6
                start, span = 10, 6
            if group in ("tier1", "tier2", "triage") and d == outage:
                f *= 0.15
            if group in ("tier1", "tier2", "triage") and d == backlog:
                f *= 1.7
            if group == "tier2" and d in launch:
                f *= 1.6
            if group == "triage" and d in incident_days:
                f *= 1.5
            if acct == ramp_hire:
                f *= min(1.0, 0.25 + 0.75 * (d - 5) / 15)
            if acct == new_hire:
                f *= min(1.0, 0.3 + 0.7 * (d - 9) / 10)
            if acct == promoted and d >= promoted_from:
                group = "tier2"
                f *= 3.0
            n = p["level"] * f
            if p["kind"] == "billing":
                o.billing_day(acct, d, n, p["ip"])
                continue
            o.support_day(acct, group, d, n, start, span, p["ip"], p["app"], p["batch"])
            # The attacks that ride on an ordinary day.
            if acct == slow and d >= slow_from:
                o.support_day(acct, group, d, 250, start, span, p["ip"], p["app"])
            if acct == creep and d >= creep_from:
                o.support_day(acct, group, d, 1100, start, span, p["ip"], p["app"], p["batch"])
            if acct == new_hire and d in grab_days:
                o.support_day(acct, group, d, 6 * 120 * trend, start, span, p["ip"], p["app"])
            if acct == sweeper and d in sweep_days:
                o.support_day(acct, group, d, n, start, span, p["ip"], p["app"], tables=SWEEP)
            if acct == weekend_agent and d == weekend_grab_day:
                o.support_day(acct, group, d, 2500, 10, 5, p["ip"], p["app"], batch=(1, 5))
        # The sweep's Saturday: the agent comes in alone.
        if weekday_of(d) == 5 and d in sweep_days:
            p = by[sweeper]
            o.support_day(sweeper, "tier2", d, 2 * p["level"] * trend, 10, 4, p["ip"], p["app"], tables=SWEEP)
        # The part-timer's days off: evenings, from home.
        if d in offdays:
            p = by[offday]
            o.support_day(offday, "tier1", d, 2 * p["level"] * trend, 19, 3, "172.20.44.9", p["app"])
        # The drip: a billing clerk mails an extract to a personal address each afternoon.
        if d in drip_days:
            t = EPOCH + d * DAY + 15 * HOUR + r.randrange(HOUR)
            o.emit(t, clerk, ["BILLING.CUSTOMERS"], 1500, source="oracle-audit-billing", kind="EXPORT", op="SPOOL",
                   ip=by[clerk]["ip"], app="sqlplus-forms", dest="smtp://mail.freemail.example/cl.bill",
                   nbytes=1500 * 450, digest="spool-mail")
        # The integration account: a partner sync every hour, all day, every day.
        for h in range(24):
            rows = int(200 * trend * math.exp(r.gauss(0, 0.2)))
            o.emit(EPOCH + d * DAY + h * HOUR + r.randrange(10 * MIN), "svc-partner-sync", ["support.customers"],
                   rows, source="pgproxy-support", group="integrations", ip="10.40.0.5", app="partner-sync",
                   digest="partner-sync")
        # Billing's month-end statements to the warehouse (a team export to a destination everyone uses).
        if d in (28, 29):
            for p in people:
                if p["kind"] == "billing" and r.random() < 0.9:
                    rows = int(4000 * math.exp(r.gauss(0, 0.5)))
                    o.emit(EPOCH + d * DAY + 14 * HOUR + r.randrange(2 * HOUR), p["acct"], ["BILLING.CUSTOMERS"],
                           rows, source="oracle-audit-billing", kind="EXPORT", op="SPOOL", ip=p["ip"],
                           app="sqlplus-forms", dest="s3://corp-dwh/billing/statements/", nbytes=rows * 300,
                           digest="statements")

    # token_theft: 02:00 on day 31 (a Sunday night), a new address, half an hour.
    t = EPOCH + 31 * DAY + 2 * HOUR
    for k in range(40):
        o.emit(t + k * 45_000, "svc-partner-sync", ["support.customers", "crm.customer_contacts"], 2000,
               group="integrations", ip="185.220.101.7", app="python-requests", digest="sync-bulk")
    add = labels["attacks"].append
    add({"name": "token_theft", "account": "svc-partner-sync", "start": t, "end": t + 30 * MIN,
         "expect_within_ms": HOUR})
    add({"name": "slow_reader", "account": slow, "start": EPOCH + slow_from * DAY, "end": EPOCH + days * DAY,
         "expect_within_ms": 4 * DAY})
    add({"name": "heavy_creep", "account": creep, "start": EPOCH + creep_from * DAY, "end": EPOCH + days * DAY,
         "expect_within_ms": 5 * DAY})
    add({"name": "offday_home", "account": offday, "start": EPOCH + offdays[0] * DAY + 19 * HOUR,
         "end": EPOCH + offdays[-1] * DAY + 22 * HOUR, "expect_within_ms": DAY})
    add({"name": "new_hire_grab", "account": new_hire, "start": EPOCH + grab_days[0] * DAY + 7 * HOUR,
         "end": EPOCH + grab_days[-1] * DAY + 16 * HOUR, "expect_within_ms": DAY})
    add({"name": "table_sweep", "account": sweeper, "start": EPOCH + sweep_days[0] * DAY + 7 * HOUR,
         "end": EPOCH + sweep_days[-1] * DAY + 16 * HOUR, "expect_within_ms": 3 * DAY})
    add({"name": "drip_export", "account": clerk, "start": EPOCH + drip_days[0] * DAY + 15 * HOUR,
         "end": EPOCH + drip_days[-1] * DAY + 16 * HOUR, "expect_within_ms": DAY})
    add({"name": "weekend_bulk", "account": weekend_agent, "start": EPOCH + weekend_grab_day * DAY + 10 * HOUR,
         "end": EPOCH + weekend_grab_day * DAY + 15 * HOUR, "expect_within_ms": DAY})
    labels["benign"] = [
        {"name": "outage_then_backlog", "groups": ["tier1", "tier2", "triage"], "days": [outage, backlog]},
        {"name": "product_launch", "group": "tier2", "days": sorted(launch)},
        {"name": "triage_incidents", "group": "triage", "days": sorted(incident_days)},
        {"name": "promotion_to_tier2", "account": promoted, "from_day": promoted_from},
        {"name": "holiday_week", "account": holiday},
        {"name": "ramping_hires", "accounts": [ramp_hire, new_hire]},
        {"name": "month_end_statements", "group": "billing", "days": [28, 29]},
        {"name": "growth_0.8%_a_day", "all": True},
    ]
    o.out.sort(key=lambda e: (e["event_time"], e["event_id"]))
    return o.out, labels


if __name__ == "__main__":
    stream.generate(__doc__, build, days=35)
