//! A real HTTPS server for tests: [`HttpsServer`] runs nginx with one
//! virtual server per [`HttpsSite`], each on its own loopback address and
//! the real port 443 (so that a client that always uses 443, as MTA-STS
//! does, needs no port override), with certificates from a throw-away CA
//! made at start. The CA is written to [`HttpsServer::ca_file`] for the
//! client to trust. nginx is stopped when the server drops.
//!
//! ```no_run
//! use authwarden_test_support::https::{HttpsServer, HttpsSite};
//!
//! let server = HttpsServer::start(&[HttpsSite::file(
//!     [127, 0, 0, 2],
//!     "mta-sts.example.test",
//!     "/.well-known/mta-sts.txt",
//!     "version: STSv1\nmode: enforce\nmx: mx.example.test\nmax_age: 604800\n",
//! )])
//! .unwrap();
//! let ca = server.ca_file();
//! ```

use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::util::{find_binary, wait_for_port, ChildGuard};

/// The certificate a site serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteCert {
    /// Valid now, for the site's host name, from the test CA.
    Valid,
    /// For the site's host name, from the test CA, expired in 2021.
    Expired,
    /// Valid now, from the test CA, for this other name only.
    OtherName(String),
}

/// One virtual server.
#[derive(Debug, Clone)]
pub struct HttpsSite {
    /// Its loopback address (127.0.0.2, 127.0.0.3, ...), port 443.
    pub address: Ipv4Addr,
    /// The host name it serves.
    pub host: String,
    /// Its certificate.
    pub cert: SiteCert,
    /// Files of its web root: (path, body).
    pub files: Vec<(String, String)>,
    /// nginx directives for the server block (e.g. a `location` with
    /// `return 301 ...;` or `default_type text/html;`); by default every
    /// file is `text/plain`.
    pub directives: String,
}

impl HttpsSite {
    /// A site serving one file as `text/plain` with a valid certificate.
    pub fn file(address: [u8; 4], host: &str, path: &str, body: &str) -> HttpsSite {
        HttpsSite {
            address: Ipv4Addr::from(address),
            host: host.to_string(),
            cert: SiteCert::Valid,
            files: vec![(path.to_string(), body.to_string())],
            directives: String::new(),
        }
    }

    /// The same site with another certificate.
    pub fn cert(mut self, cert: SiteCert) -> HttpsSite {
        self.cert = cert;
        self
    }

    /// The same site with these nginx directives in its server block.
    pub fn directives(mut self, directives: &str) -> HttpsSite {
        self.directives = directives.to_string();
        self
    }
}

/// A running nginx.
#[derive(Debug)]
pub struct HttpsServer {
    child: ChildGuard,
    dir: tempfile::TempDir,
}

impl HttpsServer {
    /// Starts nginx serving `sites`, each on `<address>:443`.
    pub fn start(sites: &[HttpsSite]) -> Result<HttpsServer, String> {
        let nginx = find_binary("nginx")
            .ok_or("nginx is not installed: `apt-get install nginx` (the test command does)")?;
        let dir = tempfile::Builder::new()
            .prefix("authwarden-nginx.")
            .tempdir()
            .map_err(|e| format!("cannot make a directory for nginx: {e}"))?;
        let root = dir.path();
        let (ca_pem, issuer) = make_ca()?;
        write(&root.join("ca.pem"), &ca_pem)?;
        for sub in ["tmp", "logs"] {
            fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
        }
        let mut servers = String::new();
        for (n, site) in sites.iter().enumerate() {
            let (cert, key) = make_cert(&issuer, site)?;
            let cert_file = root.join(format!("site{n}.crt"));
            let key_file = root.join(format!("site{n}.key"));
            write(&cert_file, &cert)?;
            write(&key_file, &key)?;
            let web = root.join(format!("site{n}"));
            for (path, body) in &site.files {
                let file = web.join(path.trim_start_matches('/'));
                fs::create_dir_all(file.parent().unwrap()).map_err(|e| e.to_string())?;
                write(&file, body)?;
            }
            fs::create_dir_all(&web).map_err(|e| e.to_string())?;
            servers.push_str(&format!(
                "  server {{\n    listen {addr}:443 ssl;\n    server_name {host};\n    \
                 ssl_certificate {cert};\n    ssl_certificate_key {key};\n    root {web};\n    \
                 default_type text/plain;\n    {directives}\n  }}\n",
                addr = site.address,
                host = site.host,
                cert = cert_file.display(),
                key = key_file.display(),
                web = web.display(),
                directives = site.directives,
            ));
        }
        let tmp = root.join("tmp");
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {pid};\n\
             error_log {log} warn;\nevents {{ worker_connections 64; }}\nhttp {{\n  \
             access_log off;\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n  \
             fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  \
             scgi_temp_path {tmp}/scgi;\n{servers}}}\n",
            pid = root.join("nginx.pid").display(),
            log = root.join("logs/error.log").display(),
            tmp = tmp.display(),
        );
        let conf_file = root.join("nginx.conf");
        write(&conf_file, &conf)?;
        let mut command = Command::new(nginx);
        command
            .arg("-p")
            .arg(root)
            .arg("-c")
            .arg(&conf_file)
            .arg("-e")
            .arg(root.join("logs/error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = ChildGuard::spawn(&mut command, "nginx")
            .map_err(|e| format!("cannot start nginx: {e}"))?;
        for site in sites {
            let addr = SocketAddr::from((site.address, 443));
            if !wait_for_port(addr, Duration::from_secs(10)) {
                let _ = child.stop(Duration::from_secs(1));
                let log = fs::read_to_string(root.join("logs/error.log")).unwrap_or_default();
                return Err(format!("nginx does not listen on {addr}: {log}"));
            }
        }
        Ok(HttpsServer { child, dir })
    }

    /// The PEM file of the CA that issued every site's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// nginx's error log.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("logs/error.log")).unwrap_or_default()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.stop(Duration::from_secs(2));
    }
}

/// A CA and a certificate issued by it, all PEM: for other TLS test
/// servers (the STARTTLS probe's aiosmtpd) that need an expired or
/// wrong-name certificate.
#[derive(Debug, Clone)]
pub struct TestCertificates {
    /// The CA certificate, to trust.
    pub ca: String,
    /// The server certificate.
    pub cert: String,
    /// The server key.
    pub key: String,
}

/// A new CA and a certificate for `host` of the kind `cert`.
pub fn test_certificates(host: &str, cert: SiteCert) -> Result<TestCertificates, String> {
    let (ca, issuer) = make_ca()?;
    let site = HttpsSite {
        address: Ipv4Addr::LOCALHOST,
        host: host.to_string(),
        cert,
        files: Vec::new(),
        directives: String::new(),
    };
    let (cert, key) = make_cert(&issuer, &site)?;
    Ok(TestCertificates { ca, cert, key })
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn err(e: rcgen::Error) -> String {
    format!("cannot make the test certificates: {e}")
}

/// A throw-away CA: its certificate (PEM) and the issuer that signs with it.
pub(crate) fn make_ca() -> Result<(String, Issuer<'static, KeyPair>), String> {
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "authwarden test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let cert = params.self_signed(&key).map_err(err)?;
    Ok((cert.pem(), Issuer::new(params, key)))
}

fn make_cert(
    issuer: &Issuer<'static, KeyPair>,
    site: &HttpsSite,
) -> Result<(String, String), String> {
    let name = match &site.cert {
        SiteCert::OtherName(other) => other.clone(),
        _ => site.host.clone(),
    };
    let key = KeyPair::generate().map_err(err)?;
    let mut params = CertificateParams::new(vec![name.clone()]).map_err(err)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    if site.cert == SiteCert::Expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = params.signed_by(&key, issuer).map_err(err)?;
    Ok((cert.pem(), key.serialize_pem()))
}
