//! A real SMTP server for tests: Python's aiosmtpd on loopback, writing each message to a
//! Maildir, and a reader for what it received.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// aiosmtpd on 127.0.0.1, writing each message to a Maildir; killed when dropped.
#[derive(Debug)]
pub struct SmtpServer {
    child: Child,
    pub port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    /// Starts aiosmtpd, or says why not: `None` means the test skips.
    pub fn start(dir: &Path) -> Option<SmtpServer> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !available {
            let message = "SKIPPED mail tests: pip install aiosmtpd";
            if std::env::var("SITREP_SMTP_TESTS").as_deref() == Ok("required") {
                panic!("{message} (SITREP_SMTP_TESTS=required: the mail tests may not skip)");
            }
            println!("{message}");
            return None;
        }
        let maildir = dir.join("maildir");
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("an ephemeral port").port();
            let child = Command::new("python3")
                .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
                .arg(&maildir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 runs");
            let mut server = SmtpServer { child, port, maildir: maildir.clone() };
            let address = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if server.child.try_wait().expect("aiosmtpd's status").is_some() {
                    break; // most likely the port was taken in between: try another
                }
                if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                    return Some(server);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = server.child.kill();
        }
        panic!("aiosmtpd did not start in five attempts");
    }

    /// The messages delivered so far, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let Ok(files) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        files.filter_map(|f| std::fs::read_to_string(f.ok()?.path()).ok()).collect()
    }
}

/// A message's headers (unfolded, by lower-case name) and its decoded body.
pub fn parse_mail(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((&raw, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = headers.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let encoding = headers
        .iter()
        .find(|(name, _)| name == "content-transfer-encoding")
        .map(|(_, v)| v.to_ascii_lowercase())
        .unwrap_or_default();
    let body = match encoding.as_str() {
        "base64" => {
            let compact: String = body.split_whitespace().collect();
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body"))
                .expect("a UTF-8 body")
        }
        "quoted-printable" => quoted_printable(body),
        _ => body.to_owned(),
    };
    (headers, body)
}

fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'='
            && index + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&joined[index + 1..index + 3], 16)
        {
            out.push(byte);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).expect("a UTF-8 body")
}
