#!/usr/bin/env python3
"""Writes the bundled example's DMARC failure reports (RFC 6591 / RFC 9991)
to config/example-reports/failure-reports-2026-11.mbox.

monitoring.example asks for them (`ruf=mailto:dmarc-failures@monitoring.example`
in config/example.zone); two receivers that send failure reports would have
sent these in November 2026, each an ARF message (`multipart/report;
report-type=feedback-report`) whose third part is the failed message itself,
body included, as receivers send it. authwarden keeps only the metadata of
the second part (tests/tests/failure_reports.rs checks that no word of the
bodies reaches reports/). What they contain:
- the spoofing source 2001:db8:bad:1::66 of the aggregate reports (no DKIM,
  SPF for bulk-offers.example): three reports, one of them sent twice;
- the mailing list 203.0.113.25 that adds a footer, so the DKIM body hash
  fails and SPF passes for the list's own domain: two reports;

They are committed; run this again only to change them (the output is
deterministic):

    python3 scripts/example-failure-reports.py
"""

import datetime as dt
import email.utils as email_utils
import os

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "config", "example-reports")
DOMAIN = "monitoring.example"
RUF = f"dmarc-failures@{DOMAIN}"

# (reporter domain, reporting MTA, arrival, source IP, auth failure, extra feedback fields, original From, subject, body)
REPORTS = [
    ("receiver-one.example", "mx1.receiver-one.example", dt.datetime(2026, 11, 6, 8, 14, 2),
     "2001:db8:bad:1::66", "dmarc",
     {"Original-Mail-From": "<offers@bulk-offers.example>", "SPF-DNS": "txt; bulk-offers.example; \"v=spf1 ?all\"",
      "Identity-Alignment": "none", "Delivery-Result": "delivered"},
     "Account team <security@monitoring.example>", "Your account is suspended",
     "Confirm your password at the link below within 24 hours. EXAMPLE-PRIVATE-BODY-1"),
    ("receiver-two.example", "inbound.receiver-two.example", dt.datetime(2026, 11, 12, 19, 40, 51),
     "2001:db8:bad:1::66", "dmarc",
     {"Original-Mail-From": "<offers@bulk-offers.example>", "Identity-Alignment": "none",
      "Delivery-Result": "delivered"},
     "Billing <billing@monitoring.example>", "Invoice overdue",
     "Pay the attached invoice today. EXAMPLE-PRIVATE-BODY-2"),
    ("receiver-one.example", "mx1.receiver-one.example", dt.datetime(2026, 11, 21, 3, 2, 9),
     "2001:db8:bad:1::66", "dmarc",
     {"Original-Mail-From": "<offers@bulk-offers.example>", "Identity-Alignment": "none",
      "Delivery-Result": "delivered"},
     "Account team <security@monitoring.example>", "Last warning",
     "Your mailbox will be closed. EXAMPLE-PRIVATE-BODY-3"),
    ("receiver-one.example", "mx1.receiver-one.example", dt.datetime(2026, 11, 10, 11, 5, 44),
     "203.0.113.25", "bodyhash",
     {"Original-Mail-From": "<members-bounces@lists.example.net>", "DKIM-Domain": DOMAIN,
      "DKIM-Selector": "mh1", "DKIM-Identity": f"@{DOMAIN}", "Identity-Alignment": "none",
      "Delivery-Result": "delivered"},
     f"Newsletter <news@{DOMAIN}>", "November newsletter",
     "This month at Monitoring. EXAMPLE-PRIVATE-BODY-4\n--\nYou are subscribed to members@lists.example.net"),
    ("receiver-two.example", "inbound.receiver-two.example", dt.datetime(2026, 11, 24, 9, 30, 0),
     "203.0.113.25", "bodyhash",
     {"Original-Mail-From": "<members-bounces@lists.example.net>", "DKIM-Domain": DOMAIN,
      "DKIM-Selector": "mh1", "Identity-Alignment": "none", "Delivery-Result": "spam"},
     f"Events <events@{DOMAIN}>", "Invitation",
     "Join us on 3 December. EXAMPLE-PRIVATE-BODY-5\n--\nYou are subscribed to members@lists.example.net"),
]


def message(i, reporter, mta, arrival, ip, auth_failure, fields, orig_from, subject, body, feedback="auth-failure"):
    boundary = f"arf-{i:04d}"
    date = email_utils.format_datetime(arrival.replace(tzinfo=dt.timezone.utc))
    report_date = email_utils.format_datetime((arrival + dt.timedelta(minutes=3)).replace(tzinfo=dt.timezone.utc))
    recipient = f"user{i}@{reporter}"
    feedback_fields = [
        f"Feedback-Type: {feedback}",
        "User-Agent: ExampleReceiver/1.0",
        "Version: 1",
    ]
    if auth_failure:
        feedback_fields.append(f"Auth-Failure: {auth_failure}")
    feedback_fields += [
        f"Reporting-MTA: dns; {mta}",
        f"Original-Rcpt-To: <{recipient}>",
        f"Arrival-Date: {date}",
        f"Source-IP: {ip}",
        f"Reported-Domain: {DOMAIN}",
    ]
    feedback_fields += [f"{k}: {v}" for k, v in fields.items()]
    original = (
        f"From: {orig_from}\n"
        f"To: <{recipient}>\n"
        f"Subject: {subject}\n"
        f"Date: {date}\n"
        f"Message-ID: <example-{i}@{DOMAIN}>\n"
        "\n"
        f"{body}\n"
    )
    received = arrival + dt.timedelta(minutes=3)
    return (
        f"From dmarc-ruf@{reporter} {received:%a %b %e %H:%M:%S %Y}\n"
        f"From: DMARC failure reports <dmarc-ruf@{reporter}>\n"
        f"To: {RUF}\n"
        f"Subject: FW: {subject}\n"
        f"Date: {report_date}\n"
        f"Message-ID: <ruf-{i}@{reporter}>\n"
        "MIME-Version: 1.0\n"
        f"Content-Type: multipart/report; report-type=feedback-report; boundary=\"{boundary}\"\n"
        "\n"
        f"--{boundary}\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        f"This is an authentication failure report for a message from {ip}.\n"
        "\n"
        f"--{boundary}\n"
        "Content-Type: message/feedback-report\n"
        "\n"
        + "\n".join(feedback_fields) + "\n"
        "\n"
        f"--{boundary}\n"
        "Content-Type: message/rfc822\n"
        "\n"
        f"{original}"
        "\n"
        f"--{boundary}--\n"
        "\n"
    )


def main():
    parts = []
    for i, r in enumerate(REPORTS, start=1):
        parts.append(message(i, *r))
    # The first report again, as a receiver may resend it: deduplicated.
    parts.append(message(1, *REPORTS[0]))
    path = os.path.join(OUT, "failure-reports-2026-11.mbox")
    with open(path, "w") as f:
        f.write("".join(parts))
    print(f"wrote {len(parts)} feedback reports to {os.path.normpath(path)}")


if __name__ == "__main__":
    main()
