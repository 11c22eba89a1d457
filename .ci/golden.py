#!/usr/bin/env python3
"""Golden outcomes of the CLI (the restructure's behaviour check, HOUSE.md B5): runs the README
workflow and the edge cases with --json against a fresh database and prints every outcome with
ids, times and process owners masked, so two builds can be compared with `diff`.

    python3 .ci/golden.py BINARY DATABASE_URL > out.txt

Cases: the day-1/day-2 workflow; a file with 5 duplicate ids, 3 invalid records and one
1.1 MB record; --full without and with --force; a dry run of each; sync under each conflict
and delete policy after a hand edit; resolving both ways; restoring a snapshot; rolling runs
back; cleanup. The database must be new (a fresh SQLite file or PostgreSQL database)."""
import json, os, re, subprocess, sys, tempfile

BIN, URL = os.path.abspath(sys.argv[1]), sys.argv[2]
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}")
work = tempfile.mkdtemp(prefix="sm-golden-")


def mask(v, key=""):
    if isinstance(v, dict):
        return {k: mask(x, k) for k, x in v.items()}
    if isinstance(v, list):
        return [mask(x, key) for x in v]
    if isinstance(v, str) and TIME.match(v):
        return "<time>"
    if key == "owner" and isinstance(v, str):
        return "<owner>"
    if key in ("database", "admin_key", "api_key", "key_hash", "prefix") and isinstance(v, str):
        return f"<{key}>"
    if key in ("detail", "details", "stats") and isinstance(v, str):
        try:
            return "json:" + json.dumps(mask(json.loads(v)), sort_keys=True)
        except ValueError:
            return v
    return v


def run(*args, ok=(0,)):
    out = subprocess.run([BIN, *args], capture_output=True, text=True,
                         env={**os.environ, "DATABASE_URL": URL, "SYNC_MANAGER_LOG": "off"},
                         cwd=work)
    shown = [a.replace(work, "<work>").replace(os.path.abspath(ROOT), "<root>") for a in args]
    print(f"$ {' '.join(a if len(a) < 80 else a[:60] + '…' for a in shown)}  → {out.returncode}")
    text = out.stdout.strip()
    try:
        print(json.dumps(mask(json.loads(text)), sort_keys=True, indent=1))
    except ValueError:
        print(re.sub(r"sma?_[0-9a-f]{8,}", "<key>", text))
    if out.stderr.strip():
        print("stderr:", re.sub(r"/tmp/\S+", "<tmp>", out.stderr.strip()))
    assert out.returncode in ok, (args, out.returncode, out.stderr)
    try:
        return json.loads(text)
    except ValueError:
        return None


def write(name, records):
    path = os.path.join(work, name)
    with open(path, "w") as f:
        json.dump(records, f)
    return path


run("init", "--json")
t = str(run("create-tenant", "Golden", "--json")["tenant"]["id"])
s = str(run("source", "create", t, "portal", "--type", "scraped", "--json")["id"])
targets = {}
for policy in ("merge", "keep_target", "overwrite"):
    for delete in ("mark", "ignore"):
        cfg = json.dumps({"conflict_policy": policy, "delete_policy": delete})
        targets[(policy, delete)] = str(run("target", "create", t, f"{policy}-{delete}",
                                            "--config", cfg, "--json")["id"])
day1 = os.path.join(ROOT, "examples/data/day1.json")
day2 = os.path.join(ROOT, "examples/data/day2.json")
run("import", t, s, day1, "--dry-run", "--json")
run("import", t, s, day1, "--json")
for g in targets.values():
    run("sync", t, s, g, "--dry-run", "--json")
    run("sync", t, s, g, "--json")
    run("property", "edit", t, "PROP001", '{"data": {"title": "Villa with sea view"}}',
        "--target", g, "--json")
    run("property", "edit", t, "PROP002", '{"data": {"pool": true, "price": null}}',
        "--target", g, "--json")
run("import", t, s, day2, "--json")
for g in targets.values():
    run("sync", t, s, g, "--dry-run", "--json")
    run("sync", t, s, g, "--json")
    run("property", "list", t, "--target", g, "--json")
# Edge cases of an import: duplicates, invalid records, a record over 1 MB.
records = [{"id": f"D{i % 5}", "n": i, "title": f"dup {i}"} for i in range(10)]
records += [{"title": "no id"}, {"id": None}, 7, {"id": "BIG", "blob": "x" * 1_100_000}]
edge = write("edge.json", records)
run("import", t, s, edge, "--dry-run", "--json", ok=(3,))
run("import", t, s, edge, "--json", ok=(3,))
run("import", t, s, edge, "--strict", "--json", ok=(1,))
# A full import that would delete most records: refused, then forced (dry run first).
small = write("small.json", [{"id": "PROP001", "title": "only one"}])
run("import", t, s, small, "--full", "--dry-run", "--json", ok=(1,))
run("import", t, s, small, "--full", "--json", ok=(1,))
run("import", t, s, small, "--full", "--force", "--dry-run", "--json")
run("import", t, s, small, "--full", "--force", "--json")
for g in targets.values():
    run("sync", t, s, g, "--json")
# Warnings resolved both ways; a snapshot restored; runs rolled back.
warnings = run("warning", "list", t, "--json")
for i, w in enumerate(warnings[:6]):
    run("warning", "resolve", t, str(w["id"]), "keep_target" if i % 2 else "take_source", "--json")
run("warning", "list", t, "--all", "--json")
g = targets[("merge", "mark")]
snaps = run("snapshot", "list", t, "PROP001", "--target", g, "--json")
run("snapshot", "restore", t, str(snaps[-1]["id"]), "--json")
runs = run("run", "list", t, "--json")
for r in runs[:3]:
    run("run", "rollback", t, str(r["id"]), "--json", ok=(0, 1))
run("run", "list", t, "--json")
run("property", "list", t, "--source", s, "--all", "--json")
run("cleanup", t, "--days", "0", "--dry-run", "--json")
