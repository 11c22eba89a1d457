"""Hooks for the schema fuzz of .ci/schemathesis.

A client sends a fresh Idempotency-Key with each new request; reusing one for another request is
refused with 422 by design (tests/idempotency.rs covers that). The fuzzer draws keys from the
header's pattern and would reuse short ones for different bodies, so a key it generated that is
valid is replaced by a fresh UUID; an invalid one is kept, so the 400 for it is still checked.
"""
import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[!-~]{1,255}$")


@schemathesis.hook
def before_call(context, case, **kwargs):
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and VALID_KEY.match(key):
        headers["Idempotency-Key"] = str(uuid.uuid4())
