//! Text from strangers reaches the terminal safely: a zip member whose name
//! carries a newline and terminal escapes, and a report whose values carry
//! them, cannot forge an output line or send escape sequences through
//! `reports analyze` and `ingest` (issue 11, item 8).

use std::io::Write as _;
use std::process::Command;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authwarden"));
    cmd.env_remove("AUTHWARDEN_CONFIG");
    cmd
}

const FORGED: &str = "FORGED LINE: everything is fine";

/// A stored (uncompressed) zip of one member, built by hand: the member name
/// is taken as given, newline and escapes included.
fn zip_one(name: &[u8], data: &[u8]) -> Vec<u8> {
    let crc = authwarden_test_support::mail::crc32(data);
    let (n, d) = (name.len() as u16, data.len() as u32);
    let mut out = Vec::new();
    // local file header
    out.extend_from_slice(b"PK\x03\x04");
    out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&d.to_le_bytes());
    out.extend_from_slice(&d.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    let cd_start = out.len() as u32;
    // central directory
    out.extend_from_slice(b"PK\x01\x02");
    out.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&d.to_le_bytes());
    out.extend_from_slice(&d.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(name);
    let cd_len = out.len() as u32 - cd_start;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_start.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn assert_safe(what: &str, text: &str) {
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "{what} carries control characters: {text:?}"
    );
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with(FORGED)),
        "{what} has a forged line: {text}"
    );
    assert!(
        !text.contains('\u{202e}'),
        "{what} carries a bidi override: {text:?}"
    );
}

#[test]
fn hostile_member_names_and_values_are_escaped_in_text_output() {
    let dir = tempfile::tempdir().unwrap();
    // A broken member, so its name is printed on an error line.
    // (A zip without the UTF-8 flag names its members in CP437, so the
    // bidi override is tested through the report's values below.)
    let name = format!("report.xml\n{FORGED}\x1b]8;;http://evil.example\x07lmx.");
    let zip = zip_one(name.as_bytes(), b"<feedback><broken");
    let path = dir.path().join("hostile.zip");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&zip)
        .unwrap();

    // A valid report whose values carry escapes.
    let report = format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>evil\x1b[31m</org_name>\
         <email>a@b.example</email><report_id>r1</report_id><date_range><begin>1700000000</begin>\
         <end>1700086400</end></date_range></report_metadata><policy_published><domain>example.org</domain>\
         <p>none</p></policy_published><record><row><source_ip>192.0.2.1</source_ip><count>3</count>\
         <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>fail</spf></policy_evaluated>\
         </row><identifiers><header_from>ex\u{202e}ample.org\n{FORGED}</header_from></identifiers>\
         <auth_results><spf><domain>example.org</domain><result>fail</result></spf></auth_results></record></feedback>"
    );
    let xml = dir.path().join("values.xml");
    std::fs::write(&xml, report).unwrap();

    for format in ["text", "csv"] {
        let out = bin()
            .args(["reports", "analyze", "--format", format])
            .arg(&path)
            .arg(&xml)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert_safe(&format!("analyze {format} stdout"), &stdout);
        assert_safe(&format!("analyze {format} stderr"), &stderr);
        // The escapes are visible, not dropped: the reader sees something is off.
        let all = format!("{stdout}{stderr}");
        assert!(all.contains("\\u{1b}"), "{all}");
    }

    // config/authwarden.toml: the history goes to <dir>/reports/data.
    std::fs::create_dir_all(dir.path().join("config")).unwrap();
    let config = dir.path().join("config/authwarden.toml");
    std::fs::write(
        &config,
        "[[domains]]\nname = \"example.org\"\n\n[ingest]\nreverse_dns = false\n",
    )
    .unwrap();
    let out = bin()
        .arg("ingest")
        .arg("--config")
        .arg(&config)
        .arg(&path)
        .arg(&xml)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 new report"), "{stdout}");
    assert_safe("ingest stdout", &stdout);
    assert_safe("ingest stderr", &stderr);
}
