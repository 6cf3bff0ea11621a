#!/usr/bin/env python3
"""An external authwarden checker: MTA-STS and TLS-RPT record presence and syntax.

Speaks the external checker protocol, version 1 (docs/external-protocol.schema.json):
one JSON request on standard input, one JSON response on standard output.
Pure standard library and no DNS of its own: it declares the two TXT queries
it needs and authwarden answers them in the run request.

    [checkers.mta-sts]
    type = "external"
    command = ["python3", "mta_sts.py"]     # relative to the config file
    config = { require_tls_rpt = true }      # default true; false: TLS-RPT missing is not reported

Checks, per domain:
- `_mta-sts.<domain>` TXT: exactly one record starting with `v=STSv1`, with
  `id=` of 1 to 32 letters and digits (RFC 8461 section 3.1);
- `_smtp._tls.<domain>` TXT: exactly one record starting with `v=TLSRPTv1`,
  with `rua=` a comma-separated list of `mailto:` or `https:` URIs
  (RFC 8460 section 3).
"""

import json
import re
import sys

PROTOCOL = 1
ID = "mta-sts"


def docs(summary, what, why, fix):
    return f"{summary}\n\n## What it checks\n{what}\n\n## Why it matters\n{why}\n\n## How to fix\n{fix}\n"


CODES = [
    {
        "code": "MTASTS001",
        "name": "mta-sts-record-missing",
        "default_severity": "note",
        "docs": docs(
            "The domain publishes no MTA-STS record.",
            "Looks up TXT at `_mta-sts.<domain>` for a string starting with `v=STSv1`.",
            "Without MTA-STS, senders deliver over TLS only opportunistically: an attacker "
            "on the path can strip STARTTLS and read or change the mail.",
            "Publish a policy at `https://mta-sts.<domain>/.well-known/mta-sts.txt` and "
            "`_mta-sts.<domain>. TXT \"v=STSv1; id=20260101\"`; change `id` whenever the policy changes.",
        ),
    },
    {
        "code": "MTASTS002",
        "name": "mta-sts-record-invalid",
        "default_severity": "error",
        "docs": docs(
            "The MTA-STS record is invalid, or there is more than one.",
            "Parses the TXT strings at `_mta-sts.<domain>` per RFC 8461 section 3.1: "
            "exactly one starts with `v=STSv1`, fields are `name=value` separated by `;`, "
            "and `id` is 1 to 32 letters and digits.",
            "Senders ignore an invalid record, and with several records they ignore all: "
            "the policy is not applied.",
            "Keep exactly one record of the form `v=STSv1; id=20260101`.",
        ),
    },
    {
        "code": "MTASTS003",
        "name": "tls-rpt-record-missing",
        "default_severity": "note",
        "docs": docs(
            "The domain publishes no TLS-RPT record.",
            "Looks up TXT at `_smtp._tls.<domain>` for a string starting with `v=TLSRPTv1`. "
            "Set `require_tls_rpt = false` in the checker's `config` to skip this.",
            "Without TLS reporting, nobody learns when senders fail to deliver over TLS, "
            "e.g. because of an expired certificate or an MTA-STS policy mismatch.",
            "Publish `_smtp._tls.<domain>. TXT \"v=TLSRPTv1; rua=mailto:tls-reports@<domain>\"`.",
        ),
    },
    {
        "code": "MTASTS004",
        "name": "tls-rpt-record-invalid",
        "default_severity": "error",
        "docs": docs(
            "The TLS-RPT record is invalid, or there is more than one.",
            "Parses the TXT strings at `_smtp._tls.<domain>` per RFC 8460 section 3: exactly "
            "one starts with `v=TLSRPTv1` and `rua` lists `mailto:` or `https:` URIs, comma-separated.",
            "Senders ignore an invalid record, so no reports arrive.",
            "Keep exactly one record of the form `v=TLSRPTv1; rua=mailto:tls-reports@example.org`.",
        ),
    },
    {
        "code": "MTASTS005",
        "name": "mta-sts-check-incomplete",
        "default_severity": "warning",
        "docs": docs(
            "A DNS lookup failed, so MTA-STS and TLS-RPT were not fully checked.",
            "Reported when the host could not resolve `_mta-sts.<domain>` or `_smtp._tls.<domain>`.",
            "The result is unknown.",
            "Check that the domain's name servers answer, then run the check again.",
        ),
    },
]

DESCRIBE = {
    "protocol": PROTOCOL,
    "id": ID,
    "summary": "checks the mta-sts and tls-rpt records: presence and syntax",
    "cadences": ["monthly"],
    "codes": CODES,
    "queries": [
        {"name": "_mta-sts.{domain}", "type": "TXT"},
        {"name": "_smtp._tls.{domain}", "type": "TXT"},
    ],
}

STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
FIELD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def fields(record):
    """`a=b; c=d` as a list of (name, value); None when a field has no `=`."""
    out = []
    for part in record.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            return None
        name, value = part.split("=", 1)
        out.append((name.strip(), value.strip()))
    return out


def sts_problem(record):
    parsed = fields(record)
    if parsed is None:
        return "a field has no `=`"
    if not parsed or parsed[0] != ("v", "STSv1"):
        return "it does not start with `v=STSv1`"
    names = [n for n, _ in parsed]
    bad = [n for n in names if not FIELD.match(n)]
    if bad:
        return f"field name `{bad[0]}` is invalid"
    ids = [v for n, v in parsed if n == "id"]
    if len(ids) != 1:
        return "it has no `id`" if not ids else "it has more than one `id`"
    if not STS_ID.match(ids[0]):
        return f"id `{ids[0]}` is not 1 to 32 letters and digits"
    return None


def rpt_problem(record):
    parsed = fields(record)
    if parsed is None:
        return "a field has no `=`"
    if not parsed or parsed[0] != ("v", "TLSRPTv1"):
        return "it does not start with `v=TLSRPTv1`"
    ruas = [v for n, v in parsed if n == "rua"]
    if len(ruas) != 1:
        return "it has no `rua`" if not ruas else "it has more than one `rua`"
    uris = [u.strip() for u in ruas[0].split(",")]
    for uri in uris:
        if not (uri.startswith("mailto:") and "@" in uri) and not uri.startswith("https://"):
            return f"`{uri}` is not a mailto: address or an https: URL"
    return None


def finding(domain, code, subject, message, help, **evidence):
    return {
        "code": code,
        "domain": domain,
        "subject": subject,
        "message": message,
        "help": help,
        "evidence": evidence,
    }


def check_name(domain, dns, name, prefix, codes, problem, example, required, facts_key, facts, out):
    missing, invalid, incomplete = codes
    answer = dns.get(name, {}).get("TXT")
    if answer is None or answer["outcome"] == "failed":
        error = answer.get("error") if answer else "no answer from the host"
        out.append(finding(domain, incomplete, name, f"the txt lookup of {name} failed: {error}",
                           f"run the check of {domain} again once its name servers answer", error=error))
        facts[facts_key] = None
        return
    records = [r for r in answer["records"] if r.lower().startswith(prefix.lower())]
    facts[facts_key] = records
    if not records:
        if required:
            out.append(finding(domain, missing, name, f"no {'mta-sts' if prefix == 'v=STSv1' else 'tls-rpt'} record at {name}",
                               f"publish `{name}. TXT \"{example}\"`"))
        return
    if len(records) > 1:
        out.append(finding(domain, invalid, name, f"{len(records)} records at {name}, senders ignore all of them",
                           f"keep exactly one record, e.g. `{example}`", records=records))
        return
    why = problem(records[0])
    if why:
        out.append(finding(domain, invalid, name, f"the record at {name} is invalid: {why}",
                           f"publish a valid record, e.g. `{name}. TXT \"{example}\"`", record=records[0]))


def run(request):
    config = request.get("config") or {}
    require_rpt = config.get("require_tls_rpt", True)
    findings, facts = [], {}
    for d in request["domains"]:
        domain, dns = d["name"], d["dns"]
        f = {}
        check_name(domain, dns, f"_mta-sts.{domain}", "v=STSv1",
                   ("MTASTS001", "MTASTS002", "MTASTS005"), sts_problem,
                   "v=STSv1; id=20260101", True, "mta_sts", f, findings)
        check_name(domain, dns, f"_smtp._tls.{domain}", "v=TLSRPTv1",
                   ("MTASTS003", "MTASTS004", "MTASTS005"), rpt_problem,
                   f"v=TLSRPTv1; rua=mailto:tls-reports@{domain}", require_rpt, "tls_rpt", f, findings)
        facts[domain] = f
    return {"protocol": PROTOCOL, "findings": findings, "facts": facts}


def main():
    request = json.load(sys.stdin)
    if request.get("protocol") != PROTOCOL:
        print(f"unsupported protocol {request.get('protocol')}", file=sys.stderr)
        return 2
    if request.get("request") == "describe":
        response = DESCRIBE
    elif request.get("request") == "run":
        response = run(request)
    else:
        print(f"unknown request {request.get('request')!r}", file=sys.stderr)
        return 2
    json.dump(response, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
