#!/usr/bin/env python3
"""Benchmark sync-manager against the import floor (SPEC §6), as whole processes.

    python3 bench/bench.py [--records 100000] [--runs 3] [--postgres URL] [--http] [--ui] [--big]

Generates listings with bench/gen_records.py, builds the floor program (bench/floor) and
sync-manager in release mode, runs every operation several times on
a fresh database each time, and prints the median wall time of each, its ratio to the floor
measured in the same run, the goal, and the peak memory. `--big` also imports 1,000,000
listings and reports the peak RSS; `--postgres URL` repeats the operations on PostgreSQL (a
fresh database per run, created next to URL's) and compares them with the SQLite times, and
with sling (a Go loader; `pip install sling-linux-amd64`) merging the same files when it is
installed. Both tools connect to PostgreSQL the same way, over TCP without TLS
(`sslmode=disable`). `--http` loads the list endpoint with wrk, reads a whole list without
`?limit=`, times `POST /sources/{id}/import` of the same files against the CLI's import of the
same run, and sends one request of 1,000,000 small records, reporting the server's peak memory.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None  # GNU time, for peaks
SHARED = HERE  # gen_records.py and floor/ (copies of the project's shared benchmark tools)

GOALS = {  # operation -> max ratio to the floor
    "import into empty source": 1.0,
    "re-import, unchanged": 0.4,
    "re-import, 10% changed": 0.6,
    "sync to empty target": 1.2,
    "sync again, no-op": 0.3,
}


def run(cmd, env=None, check=True):
    """Runs a command; returns (seconds, peak RSS in MB, stdout). Flushes the OS write-back
    first, so one command's disk writes are not billed to the next one.

    The peak comes from GNU time when it is installed: Linux bills a child the memory of the
    process it was forked from (this script, hundreds of MB after the HTTP steps) as its peak,
    so `wait4`'s figure is only right while this script is small."""
    os.sync()
    peak_file = None
    if TIME:
        fd, peak_file = tempfile.mkstemp(prefix="sm-bench-rss-")
        os.close(fd)
        cmd = [TIME, "-q", "-f", "%M", "-o", peak_file, *cmd]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if check and status != 0:
        sys.exit(f"command failed: {' '.join(cmd)}\n{err.decode()}")
    peak_kb = usage.ru_maxrss
    if peak_file:
        with open(peak_file) as f:
            text = f.read().split()
        os.unlink(peak_file)
        if text and text[-1].isdigit():
            peak_kb = int(text[-1])
    return elapsed, peak_kb / 1024, out.decode()


def build(work):
    print("building sync-manager (release)…", flush=True)
    subprocess.run(["cargo", "build", "--release", "--bin", "sync-manager"], cwd=ROOT, check=True)
    floor_src = os.path.join(work, "floor")
    shutil.copytree(os.path.join(SHARED, "floor"), floor_src)
    print("building the floor (release)…", flush=True)
    target = os.path.join(ROOT, "target", "bench-floor")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=floor_src, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    return os.path.join(ROOT, "target", "release", "sync-manager"), os.path.join(target, "release", "floor")


def build_static():
    """The static binary, built with exactly the command of the Dockerfile's build stage."""
    with open(os.path.join(ROOT, "Dockerfile")) as f:
        line = next(l for l in f if l.startswith("RUN RUSTFLAGS=") and "cargo build" in l)
    print("building the static binary (the Dockerfile's command)…", flush=True)
    subprocess.run(line[len("RUN "):].strip(), shell=True, cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "x86_64-unknown-linux-gnu", "release", "sync-manager")


def generate(work, n):
    gen = os.path.join(SHARED, "gen_records.py")
    base, changed = os.path.join(work, f"base-{n}.json"), os.path.join(work, f"changed-{n}.json")
    subprocess.run([sys.executable, gen, str(n), base], check=True)
    subprocess.run([sys.executable, gen, str(n), changed, "--change-frac", "0.1"], check=True)
    return base, changed


def one_round(binary, url, base, changed):
    env = {**os.environ, "DATABASE_URL": url}
    sm = lambda *a: [binary, *a]
    run(sm("init"), env)
    run(sm("create-tenant", "bench"), env)
    run(sm("source", "create", "1", "portal"), env)
    run(sm("target", "create", "1", "web"), env)
    results = {}
    for name, cmd in [
        ("import into empty source", sm("import", "1", "1", base)),
        ("re-import, unchanged", sm("import", "1", "1", base)),
        ("sync to empty target", sm("sync", "1", "1", "1")),
        ("sync again, no-op", sm("sync", "1", "1", "1")),
        ("re-import, 10% changed", sm("import", "1", "1", changed)),
    ]:
        results[name] = run(cmd, env)[:2]
    return results


def http_bench(binary, work, base):
    """Serves a database holding the listings, synced, and loads the list endpoint with wrk."""
    import json, re
    if not shutil.which("wrk"):
        print("\n--http needs wrk (apt-get install wrk)")
        return False
    env = {**os.environ, "DATABASE_URL": f"sqlite://{os.path.join(work, 'http.db')}?mode=rwc"}
    key = json.loads(run([binary, "create-tenant", "http", "--json"], env)[2])["api_key"]
    for cmd in (["source", "create", "1", "portal"], ["target", "create", "1", "web"],
                ["import", "1", "1", base], ["sync", "1", "1", "1"]):
        run([binary, *cmd], env)
    server, url = serve(binary, env)
    try:
        target = f"{url}/targets/1/properties?limit=100"
        out = subprocess.run(["wrk", "-t2", "-c32", "-d10s", "--latency", "-H", f"X-API-Key: {key}", target],
                             capture_output=True, text=True, check=True).stdout
        # The whole list, without ?limit=: streamed from the database.
        before = peak_mb(server.pid)
        start = time.perf_counter()
        whole = subprocess.run(["curl", "-sS", "-H", f"X-API-Key: {key}", f"{url}/targets/1/properties"],
                               capture_output=True, check=True).stdout
        whole_s = time.perf_counter() - start
        whole_peak = peak_mb(server.pid)
        count = len(json.loads(whole))
    finally:
        server.terminate()
        server.wait()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    ok = rps >= 5000 and p99_ms <= 50
    print(f"\nGET /targets/1/properties?limit=100 (wrk -t2 -c32 -d10s): {rps:.0f} req/s, p99 {p99_ms:.1f} ms "
          f"(goal >= 5000 req/s, p99 <= 50 ms): {'yes' if ok else 'NO'}")
    print(f"GET /targets/1/properties (no limit: all {count} records, {len(whole) / 1e6:.0f} MB streamed): "
          f"{whole_s:.2f} s, server peak RSS {whole_peak:.0f} MB (before it: {before:.0f} MB)")
    return ok


def serve(binary, env):
    """Starts `serve` on a free port; (process, base URL)."""
    server = subprocess.Popen([binary, "serve", "--bind", "127.0.0.1:0"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    url = next(line for line in server.stdout if line.startswith("Serving on ")).split()[2]
    return server, url


def peak_mb(pid):
    """The peak resident memory of a running process (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def post_file(url, key, path, content_type="application/json"):
    """POSTs a file with curl as the README does; (seconds, parsed JSON answer)."""
    import json
    os.sync()
    start = time.perf_counter()
    out = subprocess.run(["curl", "-sS", "-X", "POST", "-H", f"X-API-Key: {key}", "-H",
                          f"Content-Type: {content_type}", "--data-binary", f"@{path}", url],
                         capture_output=True, check=True).stdout
    return time.perf_counter() - start, json.loads(out)


HTTP_IMPORT_GOAL = 1.15  # HTTP import time / CLI import time


def http_import_round(binary, work, i, base, changed):
    """The same three imports as `one_round`, through POST /sources/1/import with curl."""
    import json
    db = os.path.join(work, f"http-import-{i}.db")
    env = {**os.environ, "DATABASE_URL": f"sqlite://{db}?mode=rwc"}
    run([binary, "init"], env)
    key = json.loads(run([binary, "create-tenant", "bench", "--json"], env)[2])["api_key"]
    run([binary, "source", "create", "1", "portal"], env)
    server, url = serve(binary, env)
    results = {}
    try:
        for name, path in [("import into empty source", base), ("re-import, unchanged", base),
                           ("re-import, 10% changed", changed)]:
            secs, answer = post_file(f"{url}/sources/1/import", key, path)
            if "stats" not in answer:
                sys.exit(f"HTTP import failed: {answer}")
            results[name] = secs
    finally:
        server.terminate()
        server.wait()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    return results


def http_big_request(binary, work):
    """One request of 1,000,000 small records: the server's peak memory against its goal."""
    import json
    path = os.path.join(work, "small-1m.json")
    with open(path, "w") as f:
        f.write("[" + ",".join('{"id":"R%07d","v":%d}' % (i, i % 97) for i in range(1_000_000)) + "]")
    body_mb = os.path.getsize(path) / 1e6
    env = {**os.environ, "DATABASE_URL": f"sqlite://{os.path.join(work, 'http-big.db')}?mode=rwc"}
    run([binary, "init"], env)
    key = json.loads(run([binary, "create-tenant", "big", "--json"], env)[2])["api_key"]
    run([binary, "source", "create", "1", "portal"], env)
    server, url = serve(binary, env)
    try:
        idle = peak_mb(server.pid)
        secs, answer = post_file(f"{url}/sources/1/import", key, path)
        new_peak = peak_mb(server.pid)
        secs2, answer2 = post_file(f"{url}/sources/1/import", key, path)
        again_peak = peak_mb(server.pid)
    finally:
        server.terminate()
        server.wait()
    goal = 100 + 2 * body_mb
    ok = new_peak <= goal and answer["stats"]["created"] == 1_000_000
    print(f"POST /sources/1/import, 1,000,000 records in one {body_mb:.1f} MB body: {secs:.2f} s, server peak RSS "
          f"{new_peak:.0f} MB (idle {idle:.0f} MB; goal <= 100 MB + 2 x body = {goal:.0f} MB): {'yes' if ok else 'NO'}")
    print(f"  the same body again (unchanged): {secs2:.2f} s, server peak RSS {again_peak:.0f} MB "
          f"({answer2['stats']['unchanged']} unchanged)")
    return ok


UI_GOALS = (20.0, 50.0)  # median and p99 milliseconds of every dashboard page


def ui_bench(binary, work, base, changed, requests=100):
    """Every dashboard page with 100,000 synced records and 1,000 open warnings: median and
    p99 of `requests` loads each over a kept-alive loopback connection."""
    import http.client, json, urllib.parse
    env = {**os.environ, "DATABASE_URL": f"sqlite://{os.path.join(work, 'ui.db')}?mode=rwc"}
    run([binary, "init"], env)
    key = json.loads(run([binary, "create-tenant", "ui", "--json"], env)[2])["api_key"]
    for cmd in (["source", "create", "1", "portal"], ["target", "create", "1", "web"],
                ["import", "1", "1", base], ["sync", "1", "1", "1"]):
        run([binary, *cmd], env)
    with open(base) as f:
        before = {r["id"]: r for r in json.load(f)}
    with open(changed) as f:
        moved = [r["id"] for r in json.load(f) if before[r["id"]] != r][:1000]
    server, url = serve(binary, env)
    host = url.split("//")[1]
    conn = http.client.HTTPConnection(host)

    def call(method, path, body=None, headers=None):
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp, data

    try:
        api = {"X-API-Key": key, "Content-Type": "application/json"}
        for rid in moved:  # a hand edit of the price the next import changes too
            call("PATCH", f"/targets/1/properties/{rid}", json.dumps({"data": {"price": 1}}), api)
        run([binary, "import", "1", "1", changed], env)
        _, sync = call("POST", "/sync/1/1", None, api)
        sync = json.loads(sync)
        warnings = json.loads(call("GET", "/warnings?status=open&limit=1", None, api)[1])
        resp, _ = call("POST", "/ui/login", urllib.parse.urlencode({"key": key}),
                       {"Content-Type": "application/x-www-form-urlencoded"})
        cookie = resp.getheader("Set-Cookie").split(";")[0]
        record = urllib.parse.quote(moved[0])
        pages = ["/ui", "/ui/warnings", f"/ui/warnings/{warnings[0]['id']}", "/ui/sources",
                 "/ui/sources/1", "/ui/sources/1/records", f"/ui/sources/1/records/{record}",
                 "/ui/targets", "/ui/targets/1", "/ui/targets/1/records",
                 "/ui/targets/1/records?manual=1", f"/ui/targets/1/records/{record}",
                 "/ui/runs", f"/ui/runs/{sync['run_id']}"]
        print(f"\nDashboard pages, 100,000 synced records, {sync['stats']['warnings']} open warnings "
              f"({requests} loads each): goal median <= {UI_GOALS[0]:.0f} ms, p99 <= {UI_GOALS[1]:.0f} ms")
        print(f"{'page':40} {'median ms':>10} {'p99 ms':>8} {'ok':>3}")
        all_ok = True
        for page in pages:
            times = []
            for i in range(requests + 5):
                start = time.perf_counter()
                resp, body = call("GET", page, None, {"Cookie": cookie})
                elapsed = (time.perf_counter() - start) * 1000
                if resp.status != 200:
                    sys.exit(f"{page}: {resp.status} {body[:300]}")
                if i >= 5:
                    times.append(elapsed)
            times.sort()
            median = statistics.median(times)
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            ok = median <= UI_GOALS[0] and p99 <= UI_GOALS[1]
            all_ok &= ok
            print(f"{page[:40]:40} {median:10.1f} {p99:8.1f} {'yes' if ok else 'NO':>3}")
    finally:
        conn.close()
        server.terminate()
        server.wait()
    return all_ok


def find_sling():
    """sling on PATH, or the binary of the PyPI package sling-linux-amd64."""
    found = shutil.which("sling")
    if found:
        return found
    try:
        import importlib.util
        spec = importlib.util.find_spec("sling_linux_amd64")
    except ImportError:
        spec = None
    if spec and spec.submodule_search_locations:
        binary = os.path.join(list(spec.submodule_search_locations)[0], "bin", "sling-linux-amd64")
        if os.path.exists(binary):
            os.chmod(binary, 0o755)
            return binary
    return None


SLING_GOALS = {  # operation -> max ratio of sync-manager on PostgreSQL to sling
    "import into empty source": 0.5,
    "re-import, unchanged": 0.2,
    "re-import, 10% changed": None,
}


def sling_round(sling, admin_url, i, base, changed):
    """sling merging the same files into PostgreSQL by primary key (a fresh database)."""
    url = pg_database(admin_url, f"sm_sling_{i}")
    conn = url.replace("postgres://", "postgresql://", 1)
    env = {**os.environ, "SLING_DISABLE_TELEMETRY": "true"}
    results = {}
    for name, path in [("import into empty source", base), ("re-import, unchanged", base),
                       ("re-import, 10% changed", changed)]:
        results[name] = run([sling, "run", "--src-stream", f"file://{path}", "--src-options", '{"flatten": 1}',
                             "--tgt-conn", conn, "--tgt-object", "public.properties", "--mode", "incremental",
                             "--primary-key", "id"], env)[:2]
    subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE "sm_sling_{i}" WITH (FORCE)'], check=True)
    return results


def pg_database(admin_url, name):
    """A fresh database; its URL for both tools, without TLS (both connect over loopback the
    same way: TLS would add ~0.3 s per 100,000 listings to sync-manager's import)."""
    base, _, _ = admin_url.split("?")[0].rpartition("/")
    subprocess.run(["psql", admin_url, "-qc", f'DROP DATABASE IF EXISTS "{name}"'], check=True)
    subprocess.run(["psql", admin_url, "-qc", f'CREATE DATABASE "{name}"'], check=True)
    return f"{base}/{name}?sslmode=disable"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--postgres", help="admin URL of a PostgreSQL server, e.g. postgres://postgres@127.0.0.1/test")
    ap.add_argument("--static", action="store_true",
                    help="also time the static binary of the container image against the dynamic one, row by row")
    ap.add_argument("--big", action="store_true", help="also import 1,000,000 listings and report peak RSS")
    ap.add_argument("--ui", action="store_true",
                    help="also time every dashboard page with 100,000 records and 1,000 open warnings")
    ap.add_argument("--http", action="store_true",
                    help="also load GET /targets/{id}/properties?limit=100 with wrk (apt-get install wrk)")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="sm-bench-")
    try:
        binary, floor = build(work)
        static_bin = build_static() if a.static else None
        static = {}
        print(f"generating {a.records} listings…", flush=True)
        base, changed = generate(work, a.records)
        floors, sqlite, pg, sling = [], {}, {}, {}
        sling_bin = find_sling() if a.postgres else None
        for i in range(a.runs):
            floors.append(run([floor, base, os.path.join(work, "floor.db")])[0])
            db = os.path.join(work, f"sm-{i}.db")
            for name, (secs, rss) in one_round(binary, f"sqlite://{db}?mode=rwc", base, changed).items():
                sqlite.setdefault(name, []).append((secs, rss))
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(db + suffix):
                    os.remove(db + suffix)
            if static_bin:
                for name, (secs, rss) in one_round(static_bin, f"sqlite://{db}?mode=rwc", base, changed).items():
                    static.setdefault(name, []).append((secs, rss))
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(db + suffix):
                        os.remove(db + suffix)
            if a.postgres:
                url = pg_database(a.postgres, f"sm_bench_{i}")
                for name, (secs, rss) in one_round(binary, url, base, changed).items():
                    pg.setdefault(name, []).append((secs, rss))
                subprocess.run(["psql", a.postgres, "-qc", f'DROP DATABASE "sm_bench_{i}" WITH (FORCE)'], check=True)
                if sling_bin:
                    for name, (secs, rss) in sling_round(sling_bin, a.postgres, i, base, changed).items():
                        sling.setdefault(name, []).append((secs, rss))
        floor_s = statistics.median(floors)
        print()
        print(f"{a.records} listings, {a.runs} runs, medians; floor {floor_s:.3f} s")
        print(f"{'operation (SQLite)':28} {'seconds':>8} {'x floor':>8} {'goal':>6} {'ok':>3} {'peak MB':>8}")
        all_ok = True
        for name, goal in GOALS.items():
            secs = statistics.median(s for s, _ in sqlite[name])
            rss = max(r for _, r in sqlite[name])
            ratio = secs / floor_s
            ok = ratio <= goal
            all_ok &= ok
            print(f"{name:28} {secs:8.3f} {ratio:8.2f} {goal:6.1f} {'yes' if ok else 'NO':>3} {rss:8.0f}")
        if static:
            size = os.path.getsize(static_bin) / 1e6
            print(f"\nstatic binary ({size:.1f} MB, glibc +crt-static) against the dynamic one ({os.path.getsize(binary) / 1e6:.1f} MB)")
            print(f"{'operation (SQLite)':28} {'static s':>8} {'dynamic':>8} {'x dyn':>6} {'goal':>5} {'ok':>3}")
            for name in GOALS:
                mine = statistics.median(s for s, _ in static[name])
                theirs = statistics.median(s for s, _ in sqlite[name])
                ok = mine / theirs <= 1.2
                all_ok &= ok
                print(f"{name:28} {mine:8.3f} {theirs:8.3f} {mine / theirs:6.2f} {1.2:5.1f} {'yes' if ok else 'NO':>3}")
        if pg:
            print("\nPostgreSQL: both tools connect over TCP without TLS (sslmode=disable)")
            print(f"{'operation (PostgreSQL)':28} {'seconds':>8} {'x SQLite':>8} {'goal':>6} {'ok':>3} {'peak MB':>8}")
            for name in GOALS:
                secs = statistics.median(s for s, _ in pg[name])
                rss = max(r for _, r in pg[name])
                ratio = secs / statistics.median(s for s, _ in sqlite[name])
                ok = ratio <= 3.0
                all_ok &= ok
                print(f"{name:28} {secs:8.3f} {ratio:8.2f} {3.0:6.1f} {'yes' if ok else 'NO':>3} {rss:8.0f}")
            if sling:
                print(f"\n{'PostgreSQL vs sling 1.4':28} {'sling s':>8} {'x sling':>8} {'goal':>6} {'ok':>3} {'sling MB':>8}")
                for name, goal in SLING_GOALS.items():
                    theirs = statistics.median(s for s, _ in sling[name])
                    rss = max(r for _, r in sling[name])
                    ratio = statistics.median(s for s, _ in pg[name]) / theirs
                    ok = goal is None or ratio <= goal
                    all_ok &= ok
                    shown = "-" if goal is None else f"{goal:.1f}"
                    print(f"{name:28} {theirs:8.3f} {ratio:8.2f} {shown:>6} {'yes' if ok else 'NO':>3} {rss:8.0f}")
            else:
                print("\n(sling not found: pip install sling-linux-amd64 to compare with it)")
        if a.http:
            all_ok &= http_bench(binary, work, base)
            http = {}
            for i in range(a.runs):
                for name, secs in http_import_round(binary, work, i, base, changed).items():
                    http.setdefault(name, []).append(secs)
            print(f"\n{'POST /sources/1/import (curl)':28} {'seconds':>8} {'x CLI':>8} {'goal':>6} {'ok':>3}")
            for name in ("import into empty source", "re-import, unchanged", "re-import, 10% changed"):
                secs = statistics.median(http[name])
                ratio = secs / statistics.median(s for s, _ in sqlite[name])
                ok = ratio <= HTTP_IMPORT_GOAL
                all_ok &= ok
                print(f"{name:28} {secs:8.3f} {ratio:8.2f} {HTTP_IMPORT_GOAL:6.2f} {'yes' if ok else 'NO':>3}")
            all_ok &= http_big_request(binary, work)
        if a.ui:
            all_ok &= ui_bench(binary, work, base, changed)
        if a.big:
            print("\ngenerating 1,000,000 listings…", flush=True)
            big = os.path.join(work, "big.json")
            subprocess.run([sys.executable, os.path.join(SHARED, "gen_records.py"), "1000000", big], check=True)
            env = {**os.environ, "DATABASE_URL": f"sqlite://{os.path.join(work, 'big.db')}?mode=rwc"}
            for cmd in (["init"], ["create-tenant", "big"], ["source", "create", "1", "portal"]):
                run([binary, *cmd], env)
            secs, rss, _ = run([binary, "import", "1", "1", big], env)
            ok = rss <= 300
            all_ok &= ok
            print(f"import of 1,000,000 listings: {secs:.2f} s, peak RSS {rss:.0f} MB (goal ≤ 300 MB): {'yes' if ok else 'NO'}")
        print("\nall goals met" if all_ok else "\nsome goals NOT met")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
