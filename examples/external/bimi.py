#!/usr/bin/env python3
"""An external authwarden checker: the BIMI record and the DMARC policy it needs.

Speaks the external checker protocol, version 1 (docs/external-protocol.schema.json):
one JSON request on standard input, one JSON response on standard output.
Pure standard library and no DNS of its own: it declares the two TXT queries
it needs and authwarden answers them in the run request.

    [checkers.bimi]
    type = "external"
    command = ["python3", "bimi.py"]        # relative to the config file
    config = { require_bimi = true }        # default true; false: a missing record is not reported

Checks, per domain (BIMI, draft-brand-indicators-for-message-identification):
- `default._bimi.<domain>` TXT: exactly one record starting with `v=BIMI1`,
  `l=` empty or an `https:` URL of an SVG logo, `a=` empty or an `https:`
  URL of the mark certificate (a PEM file);
- mailbox providers show the logo only for mail under an enforced DMARC
  policy: `_dmarc.<domain>` must have `p=quarantine` or `p=reject` with
  `pct` absent or 100.
"""

import json
import sys

PROTOCOL = 1
ID = "bimi"


def docs(summary, what, why, fix):
    return f"{summary}\n\n## What it checks\n{what}\n\n## Why it matters\n{why}\n\n## How to fix\n{fix}\n"


CODES = [
    {
        "code": "BIMI001",
        "name": "bimi-record-missing",
        "default_severity": "note",
        "docs": docs(
            "The domain publishes no BIMI record.",
            "Looks up TXT at `default._bimi.<domain>` for a string starting with `v=BIMI1`. "
            "Set `require_bimi = false` in the checker's `config` to skip this.",
            "Without BIMI, mailbox providers that support it (Gmail, Yahoo, Apple Mail) show "
            "no brand logo beside the domain's mail.",
            "Publish `default._bimi.<domain>. TXT \"v=BIMI1; l=https://<domain>/logo.svg\"` "
            "once DMARC is at enforcement.",
        ),
    },
    {
        "code": "BIMI002",
        "name": "bimi-record-invalid",
        "default_severity": "error",
        "docs": docs(
            "The BIMI record is invalid, or there is more than one.",
            "Parses the TXT strings at `default._bimi.<domain>`: exactly one starts with "
            "`v=BIMI1`, fields are `name=value` separated by `;`, `l` is empty or an `https:` "
            "URL ending in `.svg`, and `a` is empty or an `https:` URL.",
            "Receivers ignore an invalid record, and with several records they ignore all: "
            "no logo is shown.",
            "Keep exactly one record of the form `v=BIMI1; l=https://example.org/logo.svg`.",
        ),
    },
    {
        "code": "BIMI003",
        "name": "bimi-dmarc-not-enforced",
        "default_severity": "error",
        "docs": docs(
            "The domain publishes BIMI but its DMARC policy is not enforced.",
            "Reads `_dmarc.<domain>`: BIMI needs `p=quarantine` or `p=reject` with `pct` "
            "absent or 100.",
            "Receivers show the logo only for mail whose domain enforces DMARC, so the BIMI "
            "record has no effect.",
            "Finish the DMARC rollout (see the rollout advisor's next step), then keep the BIMI record.",
        ),
    },
    {
        "code": "BIMI004",
        "name": "bimi-check-incomplete",
        "default_severity": "warning",
        "docs": docs(
            "A DNS lookup failed, so BIMI was not fully checked.",
            "Reported when the host could not resolve `default._bimi.<domain>` or `_dmarc.<domain>`.",
            "The result is unknown.",
            "Check that the domain's name servers answer, then run the check again.",
        ),
    },
]

DESCRIBE = {
    "protocol": PROTOCOL,
    "id": ID,
    "summary": "checks the bimi record and the enforced dmarc policy it needs",
    "cadences": ["monthly"],
    "codes": CODES,
    "queries": [
        {"name": "default._bimi.{domain}", "type": "TXT"},
        {"name": "_dmarc.{domain}", "type": "TXT"},
    ],
}


def fields(record):
    """`a=b; c=d` as a dict; None when a field has no `=` or comes twice."""
    out = {}
    for part in record.split(";"):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            return None
        name, value = part.split("=", 1)
        name = name.strip().lower()
        if name in out:
            return None
        out[name] = value.strip()
    return out


def bimi_problem(record):
    parsed = fields(record)
    if parsed is None:
        return "a field has no `=` or is repeated"
    if parsed.get("v") != "BIMI1" or not record.strip().startswith("v="):
        return "it does not start with `v=BIMI1`"
    logo = parsed.get("l", "")
    if logo and not (logo.lower().startswith("https://") and logo.lower().endswith(".svg")):
        return f"l=`{logo}` is not an https: URL of an SVG file"
    cert = parsed.get("a", "")
    if cert and not cert.lower().startswith("https://"):
        return f"a=`{cert}` is not an https: URL"
    if not logo and not cert:
        return "it has neither a logo (`l=`) nor a certificate (`a=`)"
    return None


def enforced(dmarc):
    """None when enforced, else why not."""
    parsed = fields(dmarc) or {}
    policy = parsed.get("p", "").lower()
    if policy not in ("quarantine", "reject"):
        return f"p={policy or '(missing)'}"
    pct = parsed.get("pct", "100")
    if pct != "100":
        return f"p={policy} with pct={pct}"
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


def txt(dns, name, prefix, domain, out):
    """The records at `name` starting with `prefix`; None (and a BIMI004) when the lookup failed."""
    answer = dns.get(name, {}).get("TXT")
    if answer is None or answer["outcome"] == "failed":
        error = answer.get("error") if answer else "no answer from the host"
        out.append(finding(domain, "BIMI004", name, f"the txt lookup of {name} failed: {error}",
                           f"run the check of {domain} again once its name servers answer", error=error))
        return None
    return [r for r in answer["records"] if r.lower().startswith(prefix.lower())]


def check(domain, dns, require, out):
    name = f"default._bimi.{domain}"
    example = f"v=BIMI1; l=https://{domain}/logo.svg"
    records = txt(dns, name, "v=BIMI1", domain, out)
    facts = {"bimi": records}
    if records is None:
        return facts
    if not records:
        if require:
            out.append(finding(domain, "BIMI001", name, f"no bimi record at {name}",
                               f"publish `{name}. TXT \"{example}\"` once dmarc is at enforcement"))
        return facts
    if len(records) > 1:
        out.append(finding(domain, "BIMI002", name, f"{len(records)} records at {name}, receivers ignore all of them",
                           f"keep exactly one record, e.g. `{example}`", records=records))
        return facts
    why = bimi_problem(records[0])
    if why:
        out.append(finding(domain, "BIMI002", name, f"the record at {name} is invalid: {why}",
                           f"publish a valid record, e.g. `{name}. TXT \"{example}\"`", record=records[0]))
    dmarc_name = f"_dmarc.{domain}"
    dmarc = txt(dns, dmarc_name, "v=DMARC1", domain, out)
    if dmarc is None:
        return facts
    not_enforced = enforced(dmarc[0]) if len(dmarc) == 1 else "no single dmarc record"
    facts["dmarc_enforced"] = not_enforced is None
    if not_enforced:
        out.append(finding(domain, "BIMI003", dmarc_name,
                           f"the domain publishes bimi but its dmarc policy is not enforced ({not_enforced}), so no logo is shown",
                           "move dmarc to p=quarantine (pct=100) or p=reject first", dmarc=dmarc))
    return facts


def run(request):
    config = request.get("config") or {}
    require = config.get("require_bimi", True)
    findings, facts = [], {}
    for d in request["domains"]:
        facts[d["name"]] = check(d["name"], d["dns"], require, findings)
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
