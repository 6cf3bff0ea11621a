#!/usr/bin/env python3
"""Writes the bundled example's DMARC aggregate reports to config/example-reports/.

The reports are what two large mailbox providers would have sent for the
example domains of config/example.toml from September to 27 November 2026, one
gzipped report per reporter, domain and day, each attached to a report mail
as it arrives in a mailbox, one mbox file per month. They are committed; run
this again only to change them (the output is deterministic):

    python3 scripts/example-reports.py

What they contain, so that the monthly run on the example has something to
say about every kind of source:
- healthy.example: the company mail host (in _spf.mailhost.example) and the
  office range, SPF and DKIM aligned: pass.
- monitoring.example: the mail host (pass); a mailing list that forwards the
  mail (DKIM survives, SPF does not: partial, forwarded); an unknown source
  sending as the domain (fails both: spoofing); from November a Mandrill
  sender signing with the domain's own key (aligned pass, not in the
  inventory: a new sender).
- rollout.example: the mail host (pass) and SendGrid, which is in the
  inventory but neither in the SPF record nor signing with the domain's key
  (fail: a known service missing SPF and DKIM).
"""

import base64
import datetime as dt
import email.utils as email_utils
import gzip
import os
import random

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "example-reports")
START = dt.date(2026, 9, 1)
END = dt.date(2026, 11, 28)  # exclusive: the last reports arrive on the 28th

REPORTERS = [
    ("google.com", "noreply-dmarc-support@google.com"),
    ("Outlook.com", "dmarcreport@microsoft.com"),
]

POLICIES = {
    "healthy.example": dict(adkim="s", aspf="r", p="reject", sp="reject", pct=100),
    "monitoring.example": dict(adkim="r", aspf="r", p="none", sp="none", pct=100),
    "rollout.example": dict(adkim="r", aspf="r", p="quarantine", sp="none", pct=25),
}


def record(ip, count, header_from, disposition, dkim_eval, spf_eval, dkim, spf, reasons=()):
    reason = "".join(
        f"<reason><type>{t}</type><comment>{c}</comment></reason>" for t, c in reasons
    )
    dkim_xml = "".join(
        f"<dkim><domain>{d}</domain><selector>{s}</selector><result>{r}</result></dkim>"
        for d, s, r in dkim
    )
    spf_d, spf_r = spf
    return (
        "<record><row>"
        f"<source_ip>{ip}</source_ip><count>{count}</count>"
        f"<policy_evaluated><disposition>{disposition}</disposition>"
        f"<dkim>{dkim_eval}</dkim><spf>{spf_eval}</spf>{reason}</policy_evaluated>"
        "</row>"
        f"<identifiers><header_from>{header_from}</header_from></identifiers>"
        f"<auth_results>{dkim_xml}"
        f"<spf><domain>{spf_d}</domain><scope>mfrom</scope><result>{spf_r}</result></spf>"
        "</auth_results></record>"
    )


def records_for(domain, day, rng):
    out = []
    n = lambda lo, hi: rng.randint(lo, hi)  # noqa: E731
    if domain == "healthy.example":
        out.append(record("198.51.100.10", n(180, 260), domain, "none", "pass", "pass",
                          [(domain, "mail2026", "pass")], (domain, "pass")))
        out.append(record("192.0.2.55", n(20, 60), domain, "none", "pass", "pass",
                          [(domain, "mail2026", "pass")], (domain, "pass")))
    elif domain == "monitoring.example":
        out.append(record("198.51.100.11", n(90, 140), domain, "none", "pass", "pass",
                          [(domain, "mh1", "pass")], (domain, "pass")))
        if day.weekday() < 5:
            out.append(record("203.0.113.25", n(3, 9), domain, "none", "pass", "fail",
                              [(domain, "mh1", "pass")], ("lists.example.net", "pass"),
                              [("mailing_list", "list lists.example.net")]))
        if day.day % 3 == 0:
            out.append(record("2001:db8:bad:1::66", n(10, 40), domain, "none", "fail", "fail",
                              [], ("bulk-offers.example", "softfail")))
        if day >= dt.date(2026, 11, 3):
            out.append(record("198.2.180.10", n(40, 80), domain, "none", "pass", "fail",
                              [(domain, "mte1", "pass"), ("mandrillapp.com", "mandrill", "pass")],
                              ("mail181.atl21.mandrillapp.net", "pass")))
    elif domain == "rollout.example":
        out.append(record("198.51.100.12", n(60, 110), domain, "none", "pass", "pass",
                          [(domain, "mh1", "pass")], (domain, "pass")))
        if day.weekday() in (1, 3):
            out.append(record("167.89.10.20", n(300, 500), domain, "quarantine", "fail", "fail",
                              [("sendgrid.net", "s1", "pass")], ("em1234.rollout.example", "softfail")))
    return out


def report(org, email, domain, day, seq, rng):
    begin = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
    policy = POLICIES[domain]
    body = "".join(records_for(domain, day, rng))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feedback>'
        "<report_metadata>"
        f"<org_name>{org}</org_name><email>{email}</email>"
        f"<report_id>{org.lower().split('.')[0]}-{domain}-{day:%Y%m%d}-{seq}</report_id>"
        f"<date_range><begin>{begin}</begin><end>{begin + 86399}</end></date_range>"
        "</report_metadata>"
        f"<policy_published><domain>{domain}</domain><adkim>{policy['adkim']}</adkim>"
        f"<aspf>{policy['aspf']}</aspf><p>{policy['p']}</p><sp>{policy['sp']}</sp>"
        f"<pct>{policy['pct']}</pct></policy_published>"
        f"{body}</feedback>\n"
    )


def mail(org, email, domain, day, name, gz):
    b64 = base64.encodebytes(gz).decode().replace("\n", "\r\n")
    received = dt.datetime(day.year, day.month, day.day, 6, 0, tzinfo=dt.timezone.utc)
    received += dt.timedelta(days=1)
    date = email_utils.format_datetime(received)
    return (
        f"From {email} {received:%a %b %e %H:%M:%S %Y}\n"
        f"From: {email}\n"
        f"To: dmarc@{domain}\n"
        f"Subject: Report domain: {domain} Submitter: {org} Report-ID: {name}\n"
        f"Date: {date}\n"
        "MIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="report"\n'
        "\n"
        "--report\n"
        "Content-Type: text/plain\n"
        "\n"
        f"This is an aggregate report from {org}.\n"
        "--report\n"
        f'Content-Type: application/gzip; name="{name}"\n'
        f'Content-Disposition: attachment; filename="{name}"\n'
        "Content-Transfer-Encoding: base64\n"
        "\n"
        f"{b64.replace(chr(13), '')}"
        "--report--\n"
        "\n"
    )


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        # tls-reports-*.mbox are scripts/example-tls-reports.py's.
        if name.startswith("reports-") and name.endswith(".mbox"):
            os.remove(os.path.join(OUT, name))
    rng = random.Random(2026)
    day, seq, reports = START, 0, 0
    boxes = {}
    while day < END:
        for org, email in REPORTERS:
            for domain in POLICIES:
                seq += 1
                xml = report(org, email, domain, day, seq, rng).encode()
                name = f"{org.lower()}!{domain}!{day:%Y%m%d}.xml.gz"
                # mtime=0: the same bytes on every run.
                gz = gzip.compress(xml, mtime=0)
                boxes.setdefault(f"{day:%Y-%m}", []).append(mail(org, email, domain, day, name, gz))
                reports += 1
        day += dt.timedelta(days=1)
    for month, mails in boxes.items():
        with open(os.path.join(OUT, f"reports-{month}.mbox"), "w") as f:
            f.write("".join(mails))
    print(f"wrote {reports} reports in {len(boxes)} mbox files to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
