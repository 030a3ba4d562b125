#!/usr/bin/env python3
"""Deployment checks for exfilwatch (Python 3.11+ standard library only), driven by scripts/test-deploy.

Every check prints one line, "PASS  <what>" or "FAIL  <what>: <why>"; the caller counts them. Exit status is
1 when any check failed.

  deploycheck.py chart OBJECTS.json PROFILE CHART_DIR
      invariants of one rendered profile (objects as decoded by tools/k8s-validate -json): hardened pod,
      probes, grace period longer than the drain, checksum annotation, the dashboard and rules shipped
      byte-for-byte from the chart's files/, and the rendered config.toml as TOML.
  deploycheck.py extract OBJECTS.json CONFIG_OUT [RULES_OUT]
      writes the rendered config.toml and (if a PrometheusRule is rendered) its groups as a rule file.
  deploycheck.py example-values EXAMPLE.toml OUT.json
      turns config/exfilwatch.example.toml (every option with its default) into chart values: whatever the
      service accepts must be settable through values.schema.json (drift check between the two).
  deploycheck.py compare-config RENDERED.toml EXAMPLE.toml
      the config.toml the chart rendered from those values equals the example (chart-owned keys aside).
  deploycheck.py schema-defaults VALUES.schema.json EXAMPLE.toml
      every default values.schema.json documents under config equals the example's.
  deploycheck.py dashboard DASHBOARD.json METRICS.txt
      static checks of the dashboard: fixed uid, datasource variable used by every panel and target,
      namespace/pod variables, unique ids, and only metric names and label values (rule="...", outcome="...")
      the service's /metrics really exports; every exported rule and finding outcome described.
  deploycheck.py wait PROM_URL TIMEOUT_SECONDS DESCRIPTION EXPR
      polls (bounded) until EXPR returns at least one series.
  deploycheck.py env OBJECTS.json ENV_OUT SECRET_FILE
      writes NAME=VALUE lines for the environment the rendered pod gets (downward API: a pod name; Secrets:
      placeholders; the record-key file: SECRET_FILE), for `exfilwatch check-config`.
  deploycheck.py live PROM_URL DASHBOARD.json RULES.yaml METRICS.txt VAR=VALUE...
      against a Prometheus server that scrapes the detector and loaded RULES.yaml: every dashboard variable
      query and panel target (template variables substituted) and every alert rule expression is evaluated
      through /api/v1/query; each must parse, panels must return data with a real (non-NaN) value, and
      Prometheus's own evaluation of every rule must be healthy.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

failures = 0


def report(ok: bool, what: str, why: str = "") -> bool:
    global failures
    if ok:
        print(f"PASS  {what}")
    else:
        failures += 1
        print(f"FAIL  {what}: {why}")
    sys.stdout.flush()
    return ok


# --------------------------------------------------------------------------------------------- rendered chart

def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o.get("kind") == kind]


def config_map(objects: list[dict]) -> dict | None:
    for cm in by_kind(objects, "ConfigMap"):
        if "config.toml" in (cm.get("data") or {}):
            return cm
    return None


def parse_duration_seconds(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}
    total = 0.0
    for value, unit in re.findall(r"(\d+)\s*([a-z]+)", text):
        total += int(value) * units[unit]
    return total


def cmd_chart(objects_path: str, profile: str, chart_dir: str) -> None:
    objects = json.loads(Path(objects_path).read_text())
    chart = Path(chart_dir)
    p = f"[{profile}]"
    workloads = by_kind(objects, "Deployment") + by_kind(objects, "StatefulSet")
    if not report(len(workloads) == 1, f"{p} exactly one workload (Deployment or StatefulSet)", f"found {len(workloads)}"):
        return
    w = workloads[0]
    spec = w["spec"]
    pod = spec["template"]["spec"]
    containers = pod["containers"]
    c = containers[0]
    autoscalers = by_kind(objects, "HorizontalPodAutoscaler") + by_kind(objects, "ScaledObject")
    report(len(autoscalers) <= 1, f"{p} at most one autoscaler", f"{[a['kind'] for a in autoscalers]}")
    if autoscalers:
        report("replicas" not in spec, f"{p} replicas left to the {autoscalers[0]['kind']}",
               f"spec.replicas={spec.get('replicas')} would fight the autoscaler")
    else:
        report(isinstance(spec.get("replicas"), int), f"{p} replicas set", "spec.replicas missing")

    psc = pod.get("securityContext") or {}
    csc = c.get("securityContext") or {}
    report(psc.get("runAsNonRoot") is True and (psc.get("runAsUser") or 0) > 0,
           f"{p} pod runs as non-root uid {psc.get('runAsUser')}", json.dumps(psc))
    report((psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault"
           and (csc.get("seccompProfile") or {}).get("type") == "RuntimeDefault",
           f"{p} seccomp RuntimeDefault", json.dumps([psc, csc]))
    report(csc.get("readOnlyRootFilesystem") is True, f"{p} read-only root filesystem", json.dumps(csc))
    report(csc.get("allowPrivilegeEscalation") is False and csc.get("privileged") in (False, None),
           f"{p} no privilege escalation", json.dumps(csc))
    report((csc.get("capabilities") or {}).get("drop") == ["ALL"] and not (csc.get("capabilities") or {}).get("add"),
           f"{p} all capabilities dropped", json.dumps(csc.get("capabilities")))
    report(pod.get("automountServiceAccountToken") is False, f"{p} no service-account token mounted",
           str(pod.get("automountServiceAccountToken")))
    res = c.get("resources") or {}
    report(bool((res.get("requests") or {}).get("memory")) and bool((res.get("limits") or {}).get("memory")),
           f"{p} memory request and limit set", json.dumps(res))

    port_names = {pt.get("name"): pt.get("containerPort") for pt in c.get("ports", [])}
    lp, rp = c.get("livenessProbe") or {}, c.get("readinessProbe") or {}
    report((lp.get("httpGet") or {}).get("path") == "/healthz" and (lp.get("httpGet") or {}).get("port") == "metrics",
           f"{p} liveness probe GET /healthz on the metrics port", json.dumps(lp))
    report((rp.get("httpGet") or {}).get("path") == "/readyz" and (rp.get("httpGet") or {}).get("port") == "metrics",
           f"{p} readiness probe GET /readyz on the metrics port", json.dumps(rp))

    cm = config_map(objects)
    if not report(cm is not None, f"{p} ConfigMap with config.toml", "not rendered"):
        return
    text = cm["data"]["config.toml"]
    try:
        config = tomllib.loads(text)
        report(True, f"{p} config.toml is valid TOML")
    except tomllib.TOMLDecodeError as e:
        report(False, f"{p} config.toml is valid TOML", str(e))
        return
    kafka = config.get("kafka", {})
    drain = parse_duration_seconds(kafka.get("drain_timeout", "30s"))
    grace = pod.get("terminationGracePeriodSeconds") or 30
    report(grace > drain, f"{p} terminationGracePeriodSeconds {grace} > kafka.drain_timeout {drain:g}s",
           "SIGKILL would cut the drain short")
    listen_port = int(config.get("http", {}).get("listen", "0.0.0.0:9477").rsplit(":", 1)[1])
    report(port_names.get("metrics") == listen_port, f"{p} container port 'metrics' = http.listen port {listen_port}",
           f"ports {port_names}")
    secret_file = config.get("privacy", {}).get("record_key_secret_file", "")
    mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
    report(any(secret_file.startswith(mp + "/") and m.get("readOnly") for mp, m in mounts.items()),
           f"{p} record-key secret mounted read-only at {secret_file}", json.dumps(list(mounts)))
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    report(all(v.get("secret", {}).get("secretName") for v in volumes.values() if "secret" in v),
           f"{p} secrets referenced by name (existing Secrets)", json.dumps(volumes))
    ann = spec["template"]["metadata"].get("annotations") or {}
    report(re.fullmatch(r"[0-9a-f]{64}", ann.get("checksum/config", "")) is not None,
           f"{p} pod template carries checksum/config", json.dumps(ann))
    env = {e["name"]: e for e in c.get("env", [])}
    if "EXFILWATCH__KAFKA__GROUP_INSTANCE_ID" in env:
        report(env["EXFILWATCH__KAFKA__GROUP_INSTANCE_ID"].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
               == "metadata.name", f"{p} static membership: group_instance_id = pod name (downward API)",
               json.dumps(env["EXFILWATCH__KAFKA__GROUP_INSTANCE_ID"]))
    common = kafka.get("common", {})
    if "sasl.mechanism" in common:
        report(all(env.get(n, {}).get("valueFrom", {}).get("secretKeyRef") for n in
                   ("EXFILWATCH__KAFKA__COMMON__SASL_USERNAME", "EXFILWATCH__KAFKA__COMMON__SASL_PASSWORD"))
               and "sasl.password" not in common,
               f"{p} SASL credentials come from a Secret, not the ConfigMap", json.dumps(sorted(env)))

    svc = by_kind(objects, "Service")
    report(len(svc) == 1 and svc[0]["spec"].get("publishNotReadyAddresses") is True
           and [pt.get("name") for pt in svc[0]["spec"]["ports"]] == ["metrics"],
           f"{p} metrics Service (port 'metrics', not-ready pods still scraped)", json.dumps([s["spec"] for s in svc]))

    dash_cms = [o for o in by_kind(objects, "ConfigMap") if "exfilwatch.json" in (o.get("data") or {})]
    source_dashboard = (chart / "files" / "dashboard.json").read_text()
    if dash_cms:
        d = dash_cms[0]
        report(d["data"]["exfilwatch.json"].rstrip("\n") == source_dashboard.rstrip("\n"),
               f"{p} dashboard ConfigMap ships files/dashboard.json unchanged", "content differs")
        report((d["metadata"].get("labels") or {}).get("grafana_dashboard") == "1",
               f"{p} dashboard ConfigMap labelled for the Grafana sidecar", json.dumps(d["metadata"].get("labels")))

    for pr in by_kind(objects, "PrometheusRule"):
        names = [r.get("alert") for g in pr["spec"]["groups"] for r in g["rules"]]
        source_names = re.findall(r"^\s*- alert: (\S+)", (chart / "files" / "prometheus-rules.yaml").read_text(), re.M)
        report(names == source_names, f"{p} PrometheusRule carries the {len(source_names)} alerts of files/prometheus-rules.yaml",
               f"{names} != {source_names}")

    for sm in by_kind(objects, "ServiceMonitor"):
        report(sm["spec"].get("jobLabel") == "app.kubernetes.io/part-of"
               and (svc[0]["metadata"].get("labels") or {}).get("app.kubernetes.io/part-of") == "exfilwatch",
               f"{p} ServiceMonitor sets job=\"exfilwatch\" (what the rules select)", json.dumps(sm["spec"]))

    pdbs = by_kind(objects, "PodDisruptionBudget")
    for pdb in pdbs:
        report("maxUnavailable" in pdb["spec"], f"{p} PodDisruptionBudget uses maxUnavailable", json.dumps(pdb["spec"]))
    for so in by_kind(objects, "ScaledObject"):
        trig = so["spec"]["triggers"][0]
        md = trig.get("metadata", {})
        report(trig["type"] == "kafka" and md.get("consumerGroup") == kafka.get("group_id", "exfilwatch")
               and md.get("allowIdleConsumers") == "false" and so["spec"].get("minReplicaCount", 0) >= 1,
               f"{p} KEDA scales on the group's lag, never past the partitions nor to zero", json.dumps(so["spec"]))
    for np in by_kind(objects, "NetworkPolicy"):
        report(set(np["spec"].get("policyTypes", [])) == {"Ingress", "Egress"},
               f"{p} NetworkPolicy restricts ingress and egress", json.dumps(np["spec"].get("policyTypes")))


def cmd_extract(objects_path: str, config_out: str, rules_out: str | None = None) -> None:
    objects = json.loads(Path(objects_path).read_text())
    cm = config_map(objects)
    if cm is None:
        sys.exit("no ConfigMap with config.toml")
    Path(config_out).write_text(cm["data"]["config.toml"])
    if rules_out:
        rules = by_kind(objects, "PrometheusRule")
        if rules:
            # JSON is YAML: promtool reads this as a rule file.
            Path(rules_out).write_text(json.dumps({"groups": rules[0]["spec"]["groups"]}, indent=2))


# Keys the chart sets itself (from kafka.*, metrics.port, recordKeySecret) rather than from values.config.
CHART_OWNED = {"kafka": ("bootstrap_servers", "group_instance_id", "drain_timeout"), "http": None, "privacy": None}


def without_chart_owned(config: dict) -> dict:
    config = json.loads(json.dumps(config))
    for section, keys in CHART_OWNED.items():
        if keys is None:
            config.pop(section, None)
        else:
            for key in keys:
                config.get(section, {}).pop(key, None)
    return config


def cmd_example_values(example_path: str, out_path: str) -> None:
    example = tomllib.loads(Path(example_path).read_text())
    kafka = example.get("kafka", {})
    values = {
        "recordKeySecret": {"existingSecret": "exfilwatch-record-key"},
        "kafka": {"bootstrapServers": kafka.get("bootstrap_servers", "127.0.0.1:9092"),
                  "drainTimeoutSeconds": int(parse_duration_seconds(kafka.get("drain_timeout", "30s")))},
        "config": without_chart_owned(example),
    }
    Path(out_path).write_text(json.dumps(values, indent=2))


def diff(a, b, path="") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only in {'rendered' if key in a else 'example'}")
            else:
                out += diff(a[key], b[key], f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in diff(x, y, f"{path}[{i}]")]
    # 2 and 2.0 are the same number (the chart writes whole floats as integers); True and 1 are not.
    same = (a is b) if isinstance(a, bool) or isinstance(b, bool) else a == b
    return [] if same else [f"{path}: rendered {a!r} != example {b!r}"]


def cmd_compare_config(rendered_path: str, example_path: str) -> None:
    rendered = without_chart_owned(tomllib.loads(Path(rendered_path).read_text()))
    example = without_chart_owned(tomllib.loads(Path(example_path).read_text()))
    problems = diff(rendered, example)
    report(not problems, f"the chart renders every option of {Path(example_path).name} unchanged "
           f"({sum(len(v) if isinstance(v, dict) else 1 for v in example.values())} keys)", "; ".join(problems[:10]))


def cmd_schema_defaults(schema_path: str, example_path: str) -> None:
    """Every default values.schema.json documents under config equals the example's (which shows every option with
    the service's default)."""
    schema = json.loads(Path(schema_path).read_text())
    example = without_chart_owned(tomllib.loads(Path(example_path).read_text()))
    compared, problems = [], []

    def walk(node: dict, value: dict, path: str) -> None:
        for key, sub in (node.get("properties") or {}).items():
            if key not in value:
                continue
            here = f"{path}.{key}" if path else key
            if "default" in sub:
                compared.append(here)
                problems.extend(diff(sub["default"], value[key], here))
            if isinstance(value[key], dict):
                walk(sub, value[key], here)

    walk(schema["properties"]["config"], example, "")
    report(bool(compared) and not problems,
           f"values.schema.json documents the service's defaults ({len(compared)} defaults equal the example's)",
           "; ".join(p.replace("rendered", "schema") for p in problems[:10]) or "no default compared")


# ------------------------------------------------------------------------------------------------- dashboard

METRIC_RE = re.compile(r"\b((?:exfilwatch|process)_[a-z0-9_]+|up)\b(?!\s*\()")
EXPR_FUNCS = {"up"}


def exported_metric_names(metrics_text: str) -> set[str]:
    names = set()
    for line in metrics_text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


# Labels Prometheus attaches to the scrape target: not in the service's /metrics.
TARGET_LABELS = {"job", "namespace", "pod", "instance", "alertname", "alertstate", "le"}
LABEL_MATCHER_RE = re.compile(r'\b([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def exported_label_values(metrics_text: str) -> dict[str, set[str]]:
    """Label name -> every value it has in the exposition (the service pre-registers its bounded labels)."""
    values: dict[str, set[str]] = {}
    for line in metrics_text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        for name, value in re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', line.split("}", 1)[0]):
            values.setdefault(name, set()).add(value)
    return values


def unknown_label_values(expr: str, exported: dict[str, set[str]]) -> list[str]:
    """Label values an expression selects literally (rule="bulk_read", team=~"a|b") that /metrics never shows: a
    renamed or retired rule, outcome or reason would select nothing, silently."""
    unknown = []
    for label, op, value in LABEL_MATCHER_RE.findall(expr):
        if label in TARGET_LABELS or "$" in value:
            continue
        if op in ("=~", "!~"):
            if not re.fullmatch(r"[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*", value):
                continue  # a real regular expression: not checked
            wanted = value.split("|")
        else:
            wanted = [value]
        unknown += [f'{label}="{v}"' for v in wanted if v not in exported.get(label, set())]
    return unknown


def metric_names(expr: str) -> set[str]:
    # Drop label matchers and strings first so label values are not taken for metric names.
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    stripped = re.sub(r"\{[^}]*\}", "{}", stripped)
    stripped = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", stripped)
    return {m for m in METRIC_RE.findall(stripped)}


def walk_panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from walk_panels(panel.get("panels") or [])


def cmd_dashboard(dashboard_path: str, metrics_path: str) -> None:
    d = json.loads(Path(dashboard_path).read_text())
    metrics_text = Path(metrics_path).read_text()
    exported = exported_metric_names(metrics_text)
    report(d.get("uid") == "exfilwatch-overview", "dashboard has the fixed uid exfilwatch-overview", str(d.get("uid")))
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    report(variables.get("datasource", {}).get("type") == "datasource"
           and variables["datasource"].get("query") == "prometheus",
           "dashboard has a Prometheus datasource variable", json.dumps(variables.get("datasource")))
    for name in ("namespace", "pod"):
        v = variables.get(name, {})
        report(v.get("type") == "query" and v.get("datasource", {}).get("uid") == "${datasource}",
               f"dashboard variable ${name} queries the selected datasource", json.dumps(v))
    panels = [p for p in walk_panels(d.get("panels", [])) if p.get("type") != "row"]
    ids = [p.get("id") for p in walk_panels(d.get("panels", []))]
    report(len(ids) == len(set(ids)), "dashboard panel ids are unique", str(ids))
    wrong_ds = [p["title"] for p in panels
                if p.get("datasource", {}).get("uid") != "${datasource}"
                or any(t.get("datasource", {}).get("uid") != "${datasource}" for t in p.get("targets", []))]
    report(not wrong_ds, f"every one of {len(panels)} panels and its targets use ${{datasource}}", str(wrong_ds))
    no_targets = [p["title"] for p in panels if not p.get("targets")]
    report(not no_targets, "every panel has a query", str(no_targets))
    unknown = {}
    for p in panels:
        for t in p.get("targets", []):
            for name in metric_names(t["expr"]):
                if name not in exported and name != "up":
                    unknown.setdefault(name, []).append(p["title"])
            for var in ("$namespace", "$pod"):
                if var not in t["expr"]:
                    unknown.setdefault(f"(no {var} filter)", []).append(p["title"])
    report(not unknown, "dashboard queries only metrics the service exports, filtered by $namespace and $pod",
           json.dumps(unknown))
    labels = exported_label_values(metrics_text)
    bad_values = {p["title"]: unknown_label_values(t["expr"], labels)
                  for p in panels for t in p.get("targets", []) if unknown_label_values(t["expr"], labels)}
    report(not bad_values, "dashboard selects only label values the service exports (rule, outcome, team, ...)",
           json.dumps(bad_values))
    text = json.dumps(d)
    for must in ("exfilwatch_events_consumed_total", "exfilwatch_consumer_lag_messages",
                 "exfilwatch_event_time_lag_seconds", "exfilwatch_decode_failures_total",
                 "exfilwatch_dead_letters_total", "exfilwatch_alerts_total", "exfilwatch_rule_findings_total",
                 "exfilwatch_team_sight_total",
                 "exfilwatch_processing_duration_seconds_bucket", "exfilwatch_tracked_accounts",
                 "exfilwatch_state_bytes", "exfilwatch_rebalances_total", "exfilwatch_rebalance_duration_seconds_bucket"):
        report(must in text, f"dashboard covers {must}", "no panel queries it")
    # Panel descriptions name the rules and finding outcomes: each must be one the service exports.
    for label, values in (("rule", labels.get("rule", set())), ("outcome", labels.get("outcome", set()))):
        missing = sorted(v for v in values if v not in text)
        report(bool(values) and not missing, f"dashboard describes every {label} the service exports ({', '.join(sorted(values))})",
               f"not mentioned: {missing}" if values else f"no {label} label in /metrics")


# ------------------------------------------------------------------------------------------------ Prometheus

def prom_get(base: str, path: str, params: dict | None = None) -> dict:
    url = base.rstrip("/") + path
    if params:
        url += "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            return json.loads(body)
        except ValueError:
            return {"status": "error", "error": f"HTTP {e.code}: {body[:200]}"}
    except (urllib.error.URLError, TimeoutError, ValueError) as e:
        return {"status": "error", "error": str(e)}


def substitute(expr: str, variables: dict[str, str]) -> str:
    # Longest names first so $__rate_interval is not read as $__rate.
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    return expr


def values_of(result: dict) -> list[float]:
    data = result.get("data", {})
    out = []
    if data.get("resultType") == "vector":
        out = [float(s["value"][1]) for s in data.get("result", [])]
    elif data.get("resultType") == "matrix":
        out = [float(v[1]) for s in data.get("result", []) for v in s["values"]]
    elif data.get("resultType") == "scalar":
        out = [float(data["result"][1])]
    return out


def cmd_live(base: str, dashboard_path: str, rules_path: str, metrics_path: str, assignments: list[str]) -> None:
    variables = dict(a.split("=", 1) for a in assignments)
    d = json.loads(Path(dashboard_path).read_text())
    metrics_text = Path(metrics_path).read_text()
    exported = exported_metric_names(metrics_text)
    labels = exported_label_values(metrics_text)

    for v in d.get("templating", {}).get("list", []):
        if v.get("type") != "query":
            continue
        q = v["query"]["query"] if isinstance(v.get("query"), dict) else v.get("query")
        m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_]+)\)\s*", q)
        if not report(m is not None, f"variable ${v['name']}: label_values() query", q):
            continue
        promql = f"count by ({m.group(2)}) ({substitute(m.group(1), variables)})"
        r = prom_get(base, "/api/v1/query", {"query": promql})
        found = sorted(s["metric"].get(m.group(2), "") for s in r.get("data", {}).get("result", []))
        report(r.get("status") == "success" and found, f"variable ${v['name']} lists {found}",
               r.get("error") or "no values")

    for p in walk_panels(d.get("panels", [])):
        for t in p.get("targets", []):
            expr = substitute(t["expr"], variables)
            what = f"panel '{p['title']}' [{t['refId']}]"
            r = prom_get(base, "/api/v1/query", {"query": expr})
            if not report(r.get("status") == "success", f"{what} parses and evaluates",
                          f"{r.get('errorType')}: {r.get('error')} -- {expr}"):
                continue
            vals = values_of(r)
            real = [x for x in vals if not math.isnan(x)]
            report(bool(real), f"{what} returns data ({len(vals)} series, e.g. {real[0] if real else 'NaN'})",
                   f"{'no series' if not vals else 'only NaN'} for {expr}")

    # Alert rules: every rule of the file, as Prometheus itself loaded it.
    source_alerts = re.findall(r"^\s*- alert: (\S+)", Path(rules_path).read_text(), re.M)
    r = prom_get(base, "/api/v1/rules")
    loaded = [rule for g in r.get("data", {}).get("groups", []) for rule in g.get("rules", [])]
    report(r.get("status") == "success" and [x["name"] for x in loaded] == source_alerts,
           f"Prometheus loaded all {len(source_alerts)} alert rules of {Path(rules_path).name}",
           f"{[x.get('name') for x in loaded]} != {source_alerts}")
    for rule in loaded:
        expr = rule["query"]
        q = prom_get(base, "/api/v1/query", {"query": expr})
        report(q.get("status") == "success", f"alert {rule['name']}: expression parses and evaluates "
               f"({len(q.get('data', {}).get('result', []))} series now)", f"{q.get('error')} -- {expr}")
        unknown = sorted(n for n in metric_names(expr) if n not in exported and n != "up")
        unknown += unknown_label_values(expr, labels)
        report(not unknown, f"alert {rule['name']}: uses only exported metrics and label values", str(unknown))
        report(rule.get("health") == "ok" and not rule.get("lastError"),
               f"alert {rule['name']}: Prometheus's own evaluation is healthy (state {rule.get('state')})",
               f"health={rule.get('health')} lastError={rule.get('lastError')}")


def cmd_env(objects_path: str, env_out: str, secret_file: str) -> None:
    objects = json.loads(Path(objects_path).read_text())
    workload = (by_kind(objects, "Deployment") + by_kind(objects, "StatefulSet"))[0]
    lines = []
    for e in workload["spec"]["template"]["spec"]["containers"][0].get("env", []):
        value_from = e.get("valueFrom") or {}
        if "value" in e:
            value = e["value"]
        elif (value_from.get("fieldRef") or {}).get("fieldPath") == "metadata.name":
            value = workload["metadata"]["name"] + "-0"
        elif "secretKeyRef" in value_from:
            value = "placeholder-" + value_from["secretKeyRef"]["key"]
        else:
            sys.exit(f"cannot emulate env {e['name']}: {json.dumps(e)}")
        lines.append(f"{e['name']}={value}")
    # The Secret is mounted in the pod; here a local file stands in for it.
    lines.append(f"EXFILWATCH__PRIVACY__RECORD_KEY_SECRET_FILE={secret_file}")
    Path(env_out).write_text("\n".join(lines) + "\n")


def cmd_wait(base: str, timeout: str, description: str, expr: str) -> None:
    import time
    deadline = time.monotonic() + float(timeout)
    last = {}
    while True:
        last = prom_get(base, "/api/v1/query", {"query": expr})
        if last.get("status") == "success" and last.get("data", {}).get("result"):
            waited = float(timeout) - (deadline - time.monotonic())
            report(True, f"{description} (after {waited:.0f}s)")
            return
        if time.monotonic() >= deadline:
            report(False, description, f"no result within {timeout}s for {expr} ({last.get('error', 'empty')})")
            return
        time.sleep(1)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "chart" and len(args) == 3:
        cmd_chart(*args)
    elif cmd == "extract" and len(args) in (2, 3):
        cmd_extract(*args)
    elif cmd == "example-values" and len(args) == 2:
        cmd_example_values(*args)
    elif cmd == "compare-config" and len(args) == 2:
        cmd_compare_config(*args)
    elif cmd == "schema-defaults" and len(args) == 2:
        cmd_schema_defaults(*args)
    elif cmd == "dashboard" and len(args) == 2:
        cmd_dashboard(*args)
    elif cmd == "env" and len(args) == 3:
        cmd_env(*args)
    elif cmd == "wait" and len(args) == 4:
        cmd_wait(*args)
    elif cmd == "live" and len(args) >= 4:
        cmd_live(args[0], args[1], args[2], args[3], args[4:])
    else:
        print(__doc__)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
