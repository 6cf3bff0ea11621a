#!/usr/bin/env python3
"""Benchmark of one large DMARC aggregate report: authwarden against parsedmarc
on the same file (a bench, not a test).

Make the report with the parser's own benchmark, which also times a bare
quick-xml event pass over the same bytes (the physical reference):

    cargo run --release -p authwarden-aggregate --example bench_parse -- 20000 /tmp/r20k.xml
    python3 scripts/bench-reports.py --binary target/release/authwarden --report /tmp/r20k.xml

Then, each under /usr/bin/time -v (wall time, peak RSS), output to a file:

1. `authwarden reports analyze --format json REPORT`;
2. `authwarden ingest REPORT` into a fresh history;
3. `parsedmarc --offline REPORT` (parsedmarc from PyPI, installed into a venv
   under ~/.cache/authwarden-bench/, not by the tests), unless --no-peer.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PARSEDMARC = "parsedmarc"


def timed(cmd, stdout_path, cwd=None):
    started = time.monotonic()
    with open(stdout_path, "w") as out:
        proc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=out, stderr=subprocess.PIPE, text=True, cwd=cwd)
    wall = time.monotonic() - started
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    if proc.returncode not in (0, 1, 3):
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, rss


def parsedmarc_venv(spec):
    venv = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "authwarden-bench" / "venv-parsedmarc"
    exe = venv / "bin" / "parsedmarc"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", spec], check=True)
    return exe


def records(report):
    n = 0
    with open(report, "rb") as f:
        for line in f:
            n += line.count(b"<record>")
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--report", required=True)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--parsedmarc", default=PARSEDMARC, help=f"the pip requirement (default {PARSEDMARC})")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    report = os.path.abspath(a.report)
    n = records(report)
    size = os.path.getsize(report) / 1e6
    work = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    print(f"{report}: {n:,} records, {size:.1f} MB")
    wall, rss = timed([binary, "reports", "analyze", "--format", "json", report], work / "analyze.json")
    print(f"authwarden reports analyze: {wall:.2f} s ({n / wall:,.0f} records/s), peak RSS {rss:.0f} MiB")
    (work / "config").mkdir()
    (work / "config" / "bench.toml").write_text('reports_dir = "../reports"\n\n[ingest]\nreverse_dns = false\n')
    wall, rss = timed(
        [binary, "ingest", "--config", str(work / "config" / "bench.toml"), report], work / "ingest.txt"
    )
    print(f"authwarden ingest: {wall:.2f} s ({n / wall:,.0f} records/s), peak RSS {rss:.0f} MiB")
    if not a.no_peer:
        exe = parsedmarc_venv(a.parsedmarc)
        version = subprocess.run([str(exe), "--version"], capture_output=True, text=True).stdout.strip()
        wall_p, rss_p = timed([str(exe), "--offline", report], work / "parsedmarc.json", cwd=work)
        print(
            f"parsedmarc {version} --offline: {wall_p:.2f} s ({n / wall_p:,.0f} records/s), peak RSS {rss_p:.0f} MiB"
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
