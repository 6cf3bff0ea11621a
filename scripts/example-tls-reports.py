#!/usr/bin/env python3
"""Writes the bundled example's SMTP TLS reports (RFC 8460) to
config/example-reports/tls-reports-<month>.mbox.

What two large mailbox providers would have sent about their deliveries to
the example domains of config/example.toml from September to 27 November
2026: one report per reporter, policy domain and day, each a report mail as
it arrives in a mailbox, one mbox file per month. Google's come as
`application/tlsrpt+gzip` attachments named like Google names them
(`google.com!<domain>!<begin>!<end>!001.json.gz`); Microsoft's as gzip
attachments too, and on Sundays with the JSON as the message body
(`application/tlsrpt+json`). They are committed; run this again only to
change them (the output is deterministic):

    python3 scripts/example-tls-reports.py

What they contain:
- healthy.example: an MTA-STS policy in enforce mode covering
  mx1.healthy.example; nearly every session succeeds (a few
  sts-policy-fetch-error on single days).
- rollout.example: MTA-STS in testing mode for mx.rollout.example; from 12
  November the MX presents an expired certificate to a share of the senders
  (certificate-expired), so the failure share jumps in November.
- monitoring.example: no MTA-STS or DANE: every session is reported under
  no-policy-found.
"""

import base64
import datetime as dt
import email.utils as email_utils
import gzip
import json
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "example-reports")
START = dt.date(2026, 9, 1)
END = dt.date(2026, 11, 28)  # exclusive

REPORTERS = [
    ("Google Inc.", "google.com", "noreply-smtp-tls-reporting@google.com", "smtp-tls-reporting@google.com"),
    ("Microsoft Corporation", "microsoft.com", "tlsrpt-noreply@microsoft.com", "tlsrpt-noreply@microsoft.com"),
]

POLICIES = {
    "healthy.example": ("sts", ["version: STSv1", "mode: enforce", "mx: mx1.healthy.example", "max_age: 604800"],
                        ["mx1.healthy.example"]),
    "rollout.example": ("sts", ["version: STSv1", "mode: testing", "mx: mx.rollout.example", "max_age: 86400"],
                        ["mx.rollout.example"]),
    "monitoring.example": ("no-policy-found", None, None),
}

SENDING = {
    "google.com": ["209.85.220.41", "209.85.220.69", "2607:f8b0:4864:20::d2e"],
    "microsoft.com": ["40.107.22.61", "52.101.68.12"],
}

RECEIVING = {
    "healthy.example": ("mx1.healthy.example", "198.51.100.25"),
    "rollout.example": ("mx.rollout.example", "198.51.100.27"),
    "monitoring.example": ("mx.monitoring.example", "198.51.100.26"),
}


def policy_entry(domain, day, short, rng):
    ptype, pstring, mx = POLICIES[domain]
    scale = 1 if short == "google.com" else 0.4
    n = lambda lo, hi: int(rng.randint(lo, hi) * scale) + 1  # noqa: E731
    ok = {"healthy.example": n(300, 420), "rollout.example": n(120, 200),
          "monitoring.example": n(150, 230)}[domain]
    failures = []
    mx_host, mx_ip = RECEIVING[domain]
    if domain == "healthy.example" and day.day in (7, 19):
        failures.append(("sts-policy-fetch-error", SENDING[short][0], None, 1 + day.day % 3))
    if domain == "rollout.example" and day >= dt.date(2026, 11, 12):
        for i, ip in enumerate(SENDING[short]):
            failures.append(("certificate-expired", ip, mx_host, n(8, 20) + i))
    if domain == "rollout.example" and day.day == 3:
        failures.append(("validation-failure", SENDING[short][-1], mx_host, 2))
    policy = {"policy-type": ptype, "policy-domain": domain}
    if pstring:
        policy["policy-string"] = pstring
        policy["mx-host"] = mx
    entry = {
        "policy": policy,
        "summary": {
            "total-successful-session-count": ok,
            "total-failure-session-count": sum(f[3] for f in failures),
        },
    }
    if failures:
        entry["failure-details"] = [
            dict(
                {"result-type": t, "sending-mta-ip": ip, "receiving-ip": mx_ip,
                 "failed-session-count": c},
                **({"receiving-mx-hostname": host} if host else {}),
            )
            for t, ip, host, c in failures
        ]
    return entry


def report(org, short, contact, domain, day, rng):
    begin = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    end = begin + dt.timedelta(seconds=86399)
    z = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    report_id = (f"{z(begin)}_{domain}" if short == "google.com"
                 else f"{int(begin.timestamp()) * 1000 + 17}+{domain}")
    return {
        "organization-name": org,
        "date-range": {"start-datetime": z(begin), "end-datetime": z(end)},
        "contact-info": contact,
        "report-id": report_id,
        "policies": [policy_entry(domain, day, short, rng)],
    }, int(begin.timestamp()), int(end.timestamp())


def mail(sender, short, domain, day, report_id, body_part):
    received = dt.datetime(day.year, day.month, day.day, 7, 0, tzinfo=dt.timezone.utc)
    received += dt.timedelta(days=1)
    return (
        f"From {sender} {received:%a %b %e %H:%M:%S %Y}\n"
        f"From: {sender}\n"
        f"To: tls-reports@{domain}\n"
        f"Subject: Report Domain: {domain} Submitter: {short} Report-ID: <{report_id}>\n"
        f"Date: {email_utils.format_datetime(received)}\n"
        f"TLS-Report-Domain: {domain}\n"
        f"TLS-Report-Submitter: {short}\n"
        "MIME-Version: 1.0\n"
        f"{body_part}"
        "\n"
    )


def attachment(org, name, gz):
    b64 = base64.encodebytes(gz).decode()
    return (
        'Content-Type: multipart/report; report-type="tlsrpt"; boundary="tlsrpt"\n'
        "\n"
        "--tlsrpt\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"This is an aggregate TLS report from {org}.\n"
        "--tlsrpt\n"
        f'Content-Type: application/tlsrpt+gzip; name="{name}"\n'
        f'Content-Disposition: attachment; filename="{name}"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n"
        f"{b64}"
        "--tlsrpt--\n"
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.startswith("tls-reports-") and name.endswith(".mbox"):
            os.remove(os.path.join(OUT, name))
    rng = random.Random(8460)
    day, reports = START, 0
    boxes = {}
    while day < END:
        for org, short, sender, contact in REPORTERS:
            for domain in POLICIES:
                data, begin, end = report(org, short, contact, domain, day, rng)
                text = json.dumps(data, indent=None if short == "google.com" else 2)
                if short == "microsoft.com" and day.weekday() == 6:
                    body = "Content-Type: application/tlsrpt+json\n\n" + text + "\n"
                else:
                    suffix = "!001" if short == "google.com" else ""
                    name = f"{short}!{domain}!{begin}!{end}{suffix}.json.gz"
                    # mtime=0: the same bytes on every run.
                    body = attachment(org, name, gzip.compress(text.encode(), mtime=0))
                boxes.setdefault(f"{day:%Y-%m}", []).append(
                    mail(sender, short, domain, day, data["report-id"], body))
                reports += 1
        day += dt.timedelta(days=1)
    for month, mails in boxes.items():
        with open(os.path.join(OUT, f"tls-reports-{month}.mbox"), "w") as f:
            f.write("".join(mails))
    print(f"wrote {reports} TLS reports in {len(boxes)} mbox files to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
