#!/usr/bin/env python3
"""The fleet benchmark: `authwarden check` of N generated domains against one
Knot server on loopback, side by side with checkdmarc on the same server.

Each generated domain `fleetNNNNN.test` has an MX and its address, an SPF
record that includes 2 or 3 of 10 shared providers (Google Workspace,
Microsoft 365, SendGrid, Mailchimp, Mailgun, Amazon SES, Zendesk, Mailjet,
Fastmail, Mimecast), a DMARC record and a DKIM key at one selector of each
included provider that signs (the selector its catalog entry names). The
providers' SPF include targets are served too. Nothing leaves 127.0.0.1.

    python3 scripts/bench-fleet.py [--domains 1000] [--binary target/release/authwarden]
                                   [--port 53] [--no-peer] [--no-catalog] [--shards N]

It runs, in one go: authwarden's default `check` (the selectors with
evidence), `check --probe-catalog` (the whole selector catalog at every
domain, as before targeted probing and as the quarterly job does) and, unless
--no-peer, checkdmarc (installed into a venv under
~/.cache/authwarden-bench by this script, never by the tests), and prints
wall time, peak memory and DNS queries for each. checkdmarc asks port 53
only, so the server listens there (run as root, or pass --port and
--no-peer). Build the binary first: `cargo build --release -p authwarden-cli`.
"""

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (id, SPF include target, the DKIM selector its domains sign with)
PROVIDERS = [
    ("google-workspace", "_spf.google.com", "google"),
    ("microsoft-365", "spf.protection.outlook.com", "selector1"),
    ("sendgrid", "sendgrid.net", "s1"),
    ("mailchimp", "servers.mcsv.net", "k1"),
    ("mailgun", "mailgun.org", "krs"),
    ("amazon-ses", "amazonses.com", "amazonses"),
    ("zendesk", "mail.zendesk.com", "zendesk1"),
    ("mailjet", "spf.mailjet.com", "mailjet"),
    ("fastmail", "spf.messagingengine.com", "fm1"),
    ("mimecast", "_netblocks.mimecast.com", None),
]

# A 2048-bit RSA public key (SubjectPublicKeyInfo, base64), made once with
# `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`.
KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5+KOdnesZ9mjxJ1s18bxvcIwoG/NFw0jTv3YchODpI89LaeAI1Bk"
    "emmOgN3nhlLtODMPlsT0zD6C91+C99q73VO5unbRyOOvC+Kw5kTJyXCA2QS9F83LcWBXRS+OBnITGvwtYb+pJpaTLCh88SCk"
    "zo7S7RkRCUyIVHCqnYXtSZMzQ2R6dn1AgtPstoeoFyIrP9fZdfmt5sXMN6eKeXwT9Bngr4fU5sPm+ZjLKhiYckOVev54e4YV"
    "t6EkI34FB+6/Dm0GAJq/ZbOuViTdTsz3WccxD52Pyf1fZM2MBBzfCmrWA8teoISrFIWUssTU9odtuXThmbsxGDIl+y3HV5DG"
    "AQIDAQAB"
)

SOA = "@ 3600 SOA ns.{origin}. hostmaster.{origin}. 1 3600 600 86400 300\n@ 3600 NS ns.{origin}.\nns 3600 A 127.0.0.1\n"


def txt(value):
    """A TXT rdata split into 255-byte strings."""
    parts = [value[i : i + 255] for i in range(0, len(value), 255)]
    return " ".join('"' + p.replace('"', '\\"') + '"' for p in parts)


def zone_of(name):
    """The zone a provider's include target is served from: its last two labels."""
    return ".".join(name.split(".")[-2:])


def write_zones(work, n, seed):
    rng = random.Random(seed)
    zones = {}
    # Provider zones: each include target with an SPF record of its own.
    for i, (_, include, _) in enumerate(PROVIDERS):
        origin = zone_of(include)
        text = zones.setdefault(origin, SOA.format(origin=origin))
        owner = include[: -len(origin) - 1] if include != origin else "@"
        zones[origin] = text + f"{owner} 3600 TXT \"v=spf1 ip4:198.51.{100 + i}.0/24 ~all\"\n"
    domains = []
    for i in range(n):
        origin = f"fleet{i:05d}.test"
        domains.append(origin)
        chosen = rng.sample(PROVIDERS, rng.choice([2, 3]))
        includes = " ".join(f"include:{p[1]}" for p in chosen)
        text = SOA.format(origin=origin)
        text += "@ 3600 MX 10 mx\nmx 3600 A 192.0.2.25\n"
        text += f"@ 3600 TXT \"v=spf1 mx {includes} -all\"\n"
        text += f"_dmarc 3600 TXT \"v=DMARC1; p=reject; rua=mailto:dmarc@{origin}\"\n"
        for _, _, selector in chosen:
            if selector:
                text += f"{selector}._domainkey 3600 TXT {txt('v=DKIM1; k=rsa; p=' + KEY)}\n"
        zones[origin] = text
    zdir = work / "zones"
    zdir.mkdir()
    for origin, text in zones.items():
        (zdir / f"{origin}.zone").write_text(f"$ORIGIN {origin}.\n$TTL 3600\n" + text)
    return zones, domains


def start_knot(work, zones, port):
    knotd = shutil.which("knotd") or "/usr/sbin/knotd"
    for sub in ["run", "storage"]:
        (work / sub).mkdir()
    conf = f"""server:
    rundir: "{work}/run"
    listen: 127.0.0.1@{port}
log:
  - target: stderr
    any: warning
database:
    storage: "{work}/storage"
control:
    listen: "{work}/run/knot.sock"
template:
  - id: default
    storage: "{work}/zones"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
"""
    for origin in zones:
        conf += f'  - domain: "{origin}"\n    file: "{origin}.zone"\n'
    (work / "knot.conf").write_text(conf)
    log = open(work / "knotd.log", "w")
    proc = subprocess.Popen([knotd, "-c", str(work / "knot.conf")], stdout=log, stderr=log)
    # Ready when the last zone answers.
    last = list(zones)[-1]
    # 100,000 zones take Knot minutes to load: allow 60 s and 5 ms a zone.
    deadline = time.monotonic() + 60 + len(zones) * 0.005
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"knotd exited: {(work / 'knotd.log').read_text()}")
        out = subprocess.run(
            ["dig", "+short", "+time=1", "+tries=1", "-p", str(port), "@127.0.0.1", last, "SOA"],
            capture_output=True,
            text=True,
        )
        # dig +short prints its errors (";; communications error …") on
        # standard output too: only an SOA answer means ready.
        if f"hostmaster.{last}." in out.stdout:
            return proc
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"knotd did not answer in {60 + len(zones) * 0.005:.0f} s")


def timed(cmd, stdout_path):
    """Runs cmd under /usr/bin/time -v: (wall seconds, peak RSS MiB, stdout, stderr)."""
    time_bin = "/usr/bin/time"
    started = time.monotonic()
    with open(stdout_path, "w") as out:
        proc = subprocess.run([time_bin, "-v", *cmd], stdout=out, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - started
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(m.group(1)) / 1024 if m else float("nan")
    return wall, rss, Path(stdout_path).read_text(), proc.stderr


def checkdmarc_venv():
    venv = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "authwarden-bench" / "venv"
    exe = venv / "bin" / "checkdmarc"
    if not exe.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "checkdmarc==6.0.4"], check=True)
    return exe


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "authwarden"))
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-catalog", action="store_true", help="skip `check --probe-catalog`")
    ap.add_argument("--json", action="store_true", help="also time `check --format json`")
    ap.add_argument("--shards", type=int, default=0,
                    help="also time `check --shard 1/N`: one shard of N, for the per-shard extrapolation")
    args = ap.parse_args()
    if not Path(args.binary).exists():
        sys.exit(f"{args.binary} not found: cargo build --release -p authwarden-cli")
    work = Path(tempfile.mkdtemp(prefix="authwarden-fleet."))
    zones, domains = write_zones(work, args.domains, args.seed)
    knot = start_knot(work, zones, args.port)
    results = []
    try:
        config = work / "fleet.toml"
        lines = [
            'timezone = "UTC"',
            f'reports_dir = "{work}/reports"',
            "[dns]",
            f'nameservers = ["127.0.0.1:{args.port}"]',
            'timeout = "2s"',
            "retries = 1",
        ]
        for d in domains:
            lines += ["[[domains]]", f'name = "{d}"']
        config.write_text("\n".join(lines) + "\n")
        runs = [("authwarden check", [])]
        if not args.no_catalog:
            runs.append(("authwarden check --probe-catalog", ["--probe-catalog"]))
        if args.json:
            runs.append(("authwarden check --format json", ["--format", "json"]))
        if args.shards > 1:
            runs.append((f"authwarden check --shard 1/{args.shards}", ["--shard", f"1/{args.shards}"]))
        for label, extra in runs:
            json_out = "json" in extra
            cmd = [args.binary, *(["--format", "json"] if json_out else []), "check", "--config", str(config)]
            cmd += [e for e in extra if e not in ("--format", "json")]
            wall, rss, out, err = timed(cmd, work / "out.txt")
            if json_out:
                try:
                    checked = len(json.loads(out)["domains"])
                except (ValueError, KeyError):
                    sys.exit(f"{label} failed:\n{err[-2000:]}")
                queries = None
            else:
                totals = re.findall(r"^\d+ domains checked: .*\((\d+) DNS queries sent\)$", out, re.M)
                if not totals:
                    sys.exit(f"{label} failed:\n{err[-2000:]}")
                queries = int(totals[-1])
            results.append((label, wall, rss, queries))
        if not args.no_peer:
            if args.port != 53:
                sys.exit("checkdmarc asks port 53 only: run with --port 53 or --no-peer")
            exe = checkdmarc_venv()
            listing = work / "domains.txt"
            listing.write_text("\n".join(domains) + "\n")
            wall, rss, out, err = timed(
                [str(exe), "--skip-tls", "-n", "127.0.0.1", "-t", "2", "-f", "json", str(listing)],
                work / "checkdmarc.json",
            )
            try:
                answered = len(json.loads(out))
            except ValueError:
                sys.exit(f"checkdmarc failed:\n{err[-2000:]}")
            results.append((f"checkdmarc 6.0.4 ({answered} domains)", wall, rss, None))
    finally:
        knot.kill()
        knot.wait()
    print(f"\n{args.domains} fleet domains, one Knot server on 127.0.0.1:{args.port}\n")
    print("| tool | wall time | peak memory | DNS queries |")
    print("|---|---:|---:|---:|")
    for label, wall, rss, queries in results:
        q = f"{queries:,}" if queries is not None else "–"
        print(f"| {label} | {wall:.2f} s | {rss:.0f} MiB | {q} |")
    base = results[0][1]
    for label, wall, _, _ in results[1:]:
        print(f"\n{label}: {wall / base:.1f}× the time of `authwarden check`")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
