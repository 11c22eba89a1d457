#!/usr/bin/env python3
"""Every SQL string literal under a directory (default src/), one per line, sorted, wherever
it stands (HOUSE.md B7): a restructure that moves statements must leave this list unchanged,
since the statements' text is what the drivers' prepared-statement caches key on.

    python3 .ci/sql_literals.py [DIR] > sql.txt"""
import os, re, sys

SQL = re.compile(r"\b(SELECT |INSERT INTO|DELETE FROM|UPDATE [a-z_{}]+ SET|FROM [a-z_{(]|WHERE |"
                 r"JOIN |ON CONFLICT|RETURNING |ORDER BY|GROUP BY|INDEXED BY|UNNEST\(|\(VALUES|"
                 r"CASE WHEN|IS NULL|IS NOT NULL|NULLIF\(|PRAGMA |SET LOCAL|COUNT\(\*\))")
LITERAL = re.compile(r'(?<![\w\'])(?:r#"(.*?)"#|"((?:[^"\\]|\\.)*)")', re.S)

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
found = []
for d, _, fs in os.walk(root):
    for f in fs:
        if not f.endswith(".rs"):
            continue
        text = open(os.path.join(d, f)).read()
        cut = text.find("#[cfg(test)]\nmod tests")
        if cut >= 0:
            text = text[:cut]
        # Comments hold no statements (and their quotes would confuse the scan).
        text = re.sub(r"^\s*//.*$", "", text, flags=re.M)
        for raw, plain in LITERAL.findall(text):
            s = raw if raw else re.sub(r"\\\n\s*", "", plain)
            if SQL.search(s):
                found.append(s.replace("\n", "\\n"))
for s in sorted(found):
    print(s)
