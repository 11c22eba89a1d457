#!/usr/bin/env python3
"""The house rules (ARCHITECTURE.md, "Invariants"): what a script can check of where code
lives. Run from anywhere; prints each rule and its violations, exits 1 if any rule is broken.

  R1  every src/service/*.rs is an orchestrator of at most 300 lines
  R2  every other src/**/*.rs has at most 450 lines before its #[cfg(test)] module
  R3  SQL text only in src/store/ and src/db.rs
  R4  raw SQL entry points (Sql::new, AggPage::, Expr::cust, from_raw_sql, …) only there too
  R5  the database backend is asked only in src/store/, src/db.rs, src/config.rs
  R6  warning kinds/statuses/resolutions spelled only in src/domain/{warning,run,stats}.rs
      (and in SQL in src/store/)
  R7  run kinds compared only through RunKind, never as strings
  R8  no macro generates "source or target" code
  R9  one model of "source or target": enum Owner/Side/PropertyKind only in src/ids.rs
  R10 the environment is read only in src/config.rs
  R11 no module cycles, and layers import one way (domain <- ingest <- store <- service <-
      http/cli; connector and scheduler as listed below)
"""
import os, re, sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SRC = os.path.join(ROOT, "src")


def files():
    for d, _, fs in os.walk(SRC):
        for f in sorted(fs):
            if f.endswith(".rs"):
                yield os.path.relpath(os.path.join(d, f), ROOT)


def code_lines(path):
    """(line number, text) of the lines before the #[cfg(test)] module, comments left out."""
    out = []
    with open(os.path.join(ROOT, path)) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#[cfg(test)]"):
                break
            if line.strip().startswith("//"):
                continue
            out.append((n, line.rstrip("\n")))
    return out


def nontest_count(path):
    n = 0
    with open(os.path.join(ROOT, path)) as f:
        for line in f:
            if line.startswith("#[cfg(test)]"):
                break
            n += 1
    return n


def grep(pattern, allowed):
    rx, ok = re.compile(pattern), re.compile(allowed) if allowed else None
    hits = []
    for path in files():
        if ok and ok.match(path):
            continue
        for n, text in code_lines(path):
            if rx.search(text):
                hits.append(f"{path}:{n}: {text.strip()}")
    return hits


SQL = (r'"[^"]*\b(SELECT |INSERT INTO|DELETE FROM|DELETE "|UPDATE "|UPDATE [a-z_{}]+ SET|'
       r'FROM [a-z_{(]|WHERE |JOIN |ON CONFLICT|RETURNING |ORDER BY|GROUP BY|INDEXED BY|'
       r'UNNEST\(|\(VALUES|CASE WHEN|pg_[a-z_]+\(|string_agg|group_concat|to_char\(|'
       r'sqlite_[a-z_]+|IS NULL|IS NOT NULL|NULLIF\(|PRAGMA |SET LOCAL|COUNT\(\*\))')
STORE = r"^src/(store/|db\.rs)"


def r1():
    out = []
    for path in files():
        if re.match(r"^src/service/[^/]+\.rs$", path):
            with open(os.path.join(ROOT, path)) as f:
                n = sum(1 for _ in f)
            if n > 300:
                out.append(f"{path}: {n} lines")
    return out


def r2():
    return [f"{p}: {nontest_count(p)} lines before its tests" for p in files()
            if not p.startswith("src/service/") and nontest_count(p) > 450]


def r6():
    words = r"[\"'](open|resolved|conflict|kept_target|overwritten|deleted_manual|rejected|per_field|rolled_back|delivery_failed)[\"']"
    hits = grep(words, r"^src/(domain/(warning|run|stats)\.rs|store/)")
    # Run-stat keys ("rejected": 1, s["rejected"]) are counts, not warning words.
    return [h for h in hits if not re.search(r'"(rejected|resolved)":|\["(rejected|resolved)"\]', h)]


def modules():
    mods = {}
    for path in files():
        rel = os.path.relpath(os.path.join(ROOT, path), SRC)[:-3].split("/")
        if rel[-1] == "mod":
            rel = rel[:-1]
        name = "crate" if rel in (["lib"], ["main"]) else "crate::" + "::".join(rel)
        mods[name] = os.path.join(ROOT, path)
    return mods


def r11():
    mods = modules()

    def resolve(cur, path):
        parts, base = path.split("::"), cur.split("::")
        if parts[0] in ("crate", "$crate"):
            res, parts = ["crate"], parts[1:]
        elif parts[0] == "super":
            res, parts = base[:-1], parts[1:]
            while parts and parts[0] == "super":
                res, parts = res[:-1], parts[1:]
        elif parts[0] == "self":
            res, parts = base, parts[1:]
        else:
            return None
        for i in range(len(parts), -1, -1):
            cand = "::".join(res + parts[:i])
            if cand in mods:
                return cand
        return None

    edges = defaultdict(set)
    for m, f in mods.items():
        txt = open(f).read()
        cut = txt.find("#[cfg(test)]\nmod tests")
        if cut >= 0:
            txt = txt[:cut]
        txt = "\n".join(l for l in txt.split("\n") if not l.strip().startswith("//"))
        paths = [a + b for a, b in re.findall(r"(\$?crate|super|self)((?:::\w+)+)", txt)]
        for pre, items in re.findall(r"(\$?crate|super(?:::\w+)*|crate(?:::\w+)*)::\{([^}]*)\}", txt, re.S):
            paths += [pre + "::" + i.strip().split(" as ")[0] for i in items.split(",") if i.strip()]
        for p in paths:
            t = resolve(m, p)
            if t and t != m and not m.startswith(t + "::") and not t.startswith(m + "::"):
                edges[m].add(t)
    out = []
    index, low, stack, on, n = {}, {}, [], set(), [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append("cycle: " + " <-> ".join(sorted(comp)))

    for v in list(mods):
        if v not in index:
            visit(v)
    layer = lambda m: m.split("::")[1] if "::" in m else "crate"
    allowed = {  # layer -> the layers it may import ("crate": the re-exports of lib.rs)
        "domain": {"domain", "ids"},
        "ingest": {"ingest", "domain", "ids"},
        "store": {"store", "domain", "entity", "ids", "error", "config", "db", "crate"},
        "service": {"service", "store", "connector", "domain", "ingest", "entity", "ids", "error", "config", "db", "crate"},
        "connector": {"connector", "domain", "ingest", "ids", "error", "config", "crate"},
        "scheduler": {"scheduler", "service", "domain", "ids", "error", "config", "db", "crate"},
        "http": {"http", "service", "domain", "ingest", "entity", "ids", "error", "config", "db", "crate"},
        "cli": {"cli", "http", "service", "scheduler", "domain", "ingest", "entity", "ids", "error", "config", "db", "crate"},
    }
    for a in sorted(mods):
        for b in sorted(edges[a]):
            la, lb = layer(a), layer(b)
            if la in allowed and lb not in allowed[la]:
                out.append(f"layer: {a} -> {b}")
    return out


RULES = [
    ("R1 src/service/*.rs <= 300 lines", r1),
    ("R2 other src files <= 450 lines before their tests", r2),
    ("R3 SQL text only in src/store/, src/db.rs", lambda: grep(SQL, STORE)),
    ("R4 raw SQL entry points only in src/store/, src/db.rs", lambda: grep(
        r"Sql::new|AggPage::|Expr::cust|from_raw_sql|execute_unprepared|Statement::from_sql_and_values|query_(all|one)_raw|execute_raw", STORE)),
    ("R5 the backend is asked only in src/store/, src/db.rs, src/config.rs", lambda: grep(
        r"DbBackend|get_database_backend|is_postgres\(\)", r"^src/(store/|db\.rs|config\.rs)")),
    ("R6 warning words only in src/domain/{warning,run,stats}.rs, src/store/", r6),
    ("R7 no run kind compared as a string", lambda: grep(
        r'kind (==|!=) "(import|sync|edit|restore|rollback|resolve|cleanup)"|\("(import|sync|edit|restore|rollback|resolve|cleanup)", _\)|"import" \| "edit"', None)),
    ("R8 no endpoint_* / to_dto macros", lambda: grep(r"macro_rules! *(endpoint_[a-z]+|to_dto)", None)),
    ("R9 enum Owner/Side/PropertyKind only in src/ids.rs", lambda: grep(r"enum (Owner|Side|PropertyKind)\b", r"^src/ids\.rs")),
    ("R10 env::var only in src/config.rs", lambda: grep(r"env::var(_os)?\(", r"^src/config\.rs")),
    ("R11 no module cycles, one-way layers", r11),
]


def main():
    failed = 0
    for name, rule in RULES:
        hits = rule()
        if hits:
            failed += 1
            print(f"FAIL {name} ({len(hits)})")
            for h in hits:
                print(f"     {h}")
        else:
            print(f"ok   {name}")
    print(f"house rules: {len(RULES) - failed} of {len(RULES)} hold")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
