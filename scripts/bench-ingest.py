#!/usr/bin/env python3
"""Benchmark of the report intake and the history's compaction (a bench, not a test).

Generates DOMAINS x DAYS x REPORTERS DMARC aggregate reports, each a gzipped
XML attachment of one report mail in one mbox, with a zone file for the
domains and the reporters (nothing leaves the machine), then measures:

1. `authwarden ingest` of the mbox: wall time, peak RSS, the Parquet files
   written (one per partition, domain and day, per batch);
2. the same mbox again (every report already held);
3. `authwarden run monthly` over the history (it compacts the history first):
   wall time, peak RSS, the files after.

    python3 scripts/bench-ingest.py --binary target/release/authwarden \\
        [--domains 100] [--days 100] [--reporters 1] [--no-authenticate] [--dir DIR]

The mails are not signed: with authentication on (the default) every
message is verified and found not authenticated, which is the check's full
cost (the DMARC record of the reporter is looked up, from the zone file).
"""

import argparse
import base64
import datetime as dt
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

START = dt.date(2026, 8, 1)


def report_xml(reporter, domain, day, seq):
    begin = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
    rid = f"{reporter}!{domain}!{day:%Y%m%d}!{seq}"
    rows = []
    for i, (ip, count, dkim, spf) in enumerate(
        [(f"198.51.100.{seq % 200 + 1}", 120, "pass", "pass"), (f"203.0.113.{seq % 200 + 1}", 3, "fail", "fail")]
    ):
        rows.append(
            f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>none</disposition><dkim>{dkim}</dkim><spf>{spf}</spf></policy_evaluated></row>"
            f"<identifiers><header_from>{domain}</header_from></identifiers><auth_results>"
            f"<dkim><domain>{domain}</domain><selector>s1</selector><result>{dkim}</result></dkim>"
            f"<spf><domain>{domain}</domain><result>{spf}</result></spf></auth_results></record>"
        )
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?><feedback><report_metadata>'
        f"<org_name>{reporter}</org_name><email>noreply-dmarc@{reporter}</email>"
        f"<report_id>{rid}</report_id><date_range><begin>{begin}</begin><end>{begin + 86399}</end>"
        f"</date_range></report_metadata><policy_published><domain>{domain}</domain><adkim>r</adkim>"
        f"<aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>{''.join(rows)}</feedback>"
    )
    return rid, xml


def mail(reporter, domain, day, seq):
    rid, xml = report_xml(reporter, domain, day, seq)
    gz = base64.encodebytes(gzip.compress(xml.encode(), mtime=0)).decode()
    date = dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.timezone.utc)
    return (
        f"From noreply-dmarc@{reporter} {date:%a %b %d %H:%M:%S %Y}\n"
        f"From: noreply-dmarc@{reporter}\nTo: dmarc@{domain}\n"
        f"Subject: Report domain: {domain} Submitter: {reporter} Report-ID: {rid}\n"
        f"Date: {date:%a, %d %b %Y %H:%M:%S +0000}\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="r"\n\n--r\nContent-Type: text/plain\n\n'
        f"An aggregate report.\n--r\nContent-Type: application/gzip; name=\"{seq}.xml.gz\"\n"
        f"Content-Disposition: attachment; filename=\"{seq}.xml.gz\"\n"
        f"Content-Transfer-Encoding: base64\n\n{gz}--r--\n\n"
    )


def write_inputs(d, domains, days, reporters, authenticate):
    names = [f"d{i:03}.bench.example" for i in range(domains)]
    orgs = [f"reporter{i}.example" for i in range(reporters)]
    zone = ["$TTL 3600"]
    for n in names:
        zone += [
            f"$ORIGIN {n}.",
            "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600",
            '@ IN TXT "v=spf1 ip4:198.51.100.0/24 -all"',
            f'_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@{n}"',
        ]
    for o in orgs:
        zone += [f"$ORIGIN {o}.", "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600", '_dmarc IN TXT "v=DMARC1; p=reject"']
    zone += ["$ORIGIN bench.example.", "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600"]
    with open(os.path.join(d, "bench.zone"), "w") as f:
        f.write("\n".join(zone) + "\n")
    config = [
        'timezone = "UTC"',
        'reports_dir = "reports"',
        "",
        "[dns]",
        'zone_files = ["bench.zone"]',
        # never asked: every name is in the zone file
        'nameservers = ["127.0.0.1:9"]',
        'timeout = "1s"',
        "",
        "[ingest]",
        "reverse_dns = false",
        f"authenticate = {'true' if authenticate else 'false'}",
        "",
    ]
    for n in names:
        config += ["[[domains]]", f'name = "{n}"', ""]
    with open(os.path.join(d, "bench.toml"), "w") as f:
        f.write("\n".join(config))
    n = 0
    with open(os.path.join(d, "reports.mbox"), "w") as f:
        for day_i in range(days):
            day = START + dt.timedelta(days=day_i)
            for name in names:
                for org in orgs:
                    f.write(mail(org, name, day, n))
                    n += 1
    return n


def measure(cmd, cwd):
    """Runs cmd: (wall seconds, its own peak RSS in MiB, its standard output)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t = time.monotonic()
        p = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.monotonic() - t
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if code not in (0, 1, 2, 3):
            sys.exit(f"{' '.join(cmd)} failed ({code}):\n{err.read()}")
        return wall, usage.ru_maxrss / 1024, out.read()


def files(d):
    count = 0
    for _, _, names in os.walk(os.path.join(d, "reports", "data", "aggregate")):
        count += sum(1 for n in names if n.endswith(".parquet") and not n.startswith("."))
    return count


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--domains", type=int, default=100)
    ap.add_argument("--days", type=int, default=100)
    ap.add_argument("--reporters", type=int, default=1)
    ap.add_argument("--no-authenticate", action="store_true")
    ap.add_argument("--dir")
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    d = a.dir or tempfile.mkdtemp(prefix="bench-ingest-")
    os.makedirs(d, exist_ok=True)
    shutil.rmtree(os.path.join(d, "reports"), ignore_errors=True)
    t = time.monotonic()
    n = write_inputs(d, a.domains, a.days, a.reporters, not a.no_authenticate)
    size = os.path.getsize(os.path.join(d, "reports.mbox"))
    print(f"generated {n:,} report mails ({size / 1e6:.1f} MB mbox) in {time.monotonic() - t:.1f} s under {d}")
    wall, rss, out = measure([binary, "ingest", "--config", "bench.toml", "reports.mbox"], d)
    print(f"ingest: {wall:.1f} s, {n / wall:,.0f} reports/s, peak RSS {rss:.0f} MiB, {files(d):,} files")
    print("  " + "\n  ".join(out.strip().splitlines()[:4]))
    wall, _, out = measure([binary, "ingest", "--config", "bench.toml", "reports.mbox"], d)
    print(f"ingest again (all held): {wall:.1f} s")
    last = START + dt.timedelta(days=a.days - 1)
    period = (last.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    before = files(d)
    wall, rss, out = measure([binary, "run", "monthly", "--config", "bench.toml", "--period", period], d)
    print(
        f"run monthly --period {period} (compacts first): {wall:.1f} s, peak RSS {rss:.0f} MiB, "
        f"files {before:,} -> {files(d):,}"
    )


if __name__ == "__main__":
    main()
