#!/usr/bin/env python3
"""A test checker that describes itself properly and then misbehaves on run,
as its first argument says: ok, crash, sleep, garbage, undeclared,
wrong-domain, describe-crash, describe-bad."""
import json
import sys
import time

mode = sys.argv[1]
request = json.load(sys.stdin)
DOCS = "A test code.\n\n## What it checks\nx\n\n## Why it matters\ny\n\n## How to fix\nz\n"

if request["request"] == "describe":
    if mode == "describe-crash":
        print("cannot import something", file=sys.stderr)
        sys.exit(1)
    codes = [{"code": "TST001", "name": "test-finding", "default_severity": "warning", "docs": DOCS}]
    if mode == "describe-bad":
        codes = [{"code": "tst1", "name": "Test", "default_severity": "warning", "docs": "no sections"}]
    json.dump({"protocol": 1, "id": "misbehave", "summary": "misbehaves on purpose",
               "cadences": ["monthly", "annual"], "codes": codes,
               "queries": [{"name": "{domain}", "type": "TXT"}]}, sys.stdout)
    sys.exit(0)

domain = request["domains"][0]["name"]
if mode == "crash":
    print("Traceback (most recent call last):", file=sys.stderr)
    print("ZeroDivisionError: division by zero", file=sys.stderr)
    sys.exit(3)
if mode == "sleep":
    time.sleep(30)
if mode == "garbage":
    print("this is not json")
    sys.exit(0)
code = {"undeclared": "TST999"}.get(mode, "TST001")
target = "elsewhere.example" if mode == "wrong-domain" else domain
json.dump({"protocol": 1,
           "findings": [{"code": code, "domain": target, "message": "something is off",
                         "evidence": {"request": request}}],
           "facts": {domain: {"txt": request["domains"][0]["dns"]}}}, sys.stdout)
