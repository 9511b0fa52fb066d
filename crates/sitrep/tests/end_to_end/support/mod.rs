//! A real `sitrep serve` process on an ephemeral port, and the real `sitrep` binary run against
//! it the way a person or a script runs it: environment variables, standard input, exit codes.
//!
//! Only std is used for the little HTTP the tests need themselves (`/readyz`, `/metrics`); every
//! incident action goes through the binary.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_sitrep");

/// How long one step may take before a test gives up; generous, for loaded CI machines. Steps
/// that succeed return as soon as they do, so this costs nothing on the passing path.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// Retries `attempt` every few milliseconds until it gives a value, or panics naming `what`.
pub(crate) fn eventually<T>(what: &str, attempt: impl FnMut() -> Option<T>) -> T {
    sitrep_testing::eventually_blocking(what, PATIENCE, attempt)
}

/// Whether `sitrep serve` answered `/readyz` with 200 (false: it exited first).
fn wait_ready(child: &mut Child, addr: &str) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if child.try_wait().expect("the server's status").is_some() {
            return false;
        }
        if http_get(addr, "/readyz").is_some_and(|(status, _)| status == 200) {
            return true;
        }
        assert!(Instant::now() < deadline, "sitrep serve on {addr} was not ready after {PATIENCE:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The UTC date `days` from today (negative: before), like `2027-01-31`: dates a test sends stay
/// inside the window the server takes around now (a year back, ten years ahead).
pub(crate) fn date_in(days: i64) -> String {
    let then = sitrep_testing::system_now().as_jiff() + jiff::SignedDuration::from_hours(days * 24);
    then.strftime("%Y-%m-%d").to_string()
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port").local_addr().expect("its address").port()
}

/// A plain HTTP/1.1 GET: `(status, body)`, or `None` when nothing answers.
pub(crate) fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let socket: SocketAddr = addr.parse().ok()?;
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    Some((status, body))
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// A demo person as `sitrep serve --demo` prints them.
#[derive(Debug, Clone)]
pub(crate) struct DemoUser {
    pub name: String,
    pub role: String,
    pub password: String,
    pub token: String,
}

/// A child process, killed when dropped, so a failing test leaves nothing running.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `sitrep serve`; killed when dropped.
pub(crate) struct Server {
    _process: Process,
    pub addr: String,
    pub url: String,
    pub data: PathBuf,
    /// The PostgreSQL database the records are in, when not the SQLite file in `data`.
    pub database: Option<String>,
    dir: tempfile::TempDir,
}

impl Server {
    /// `sitrep init --admin ADMIN`, then `sitrep serve` on it: the server and the admin's token.
    pub(crate) fn init(admin: &str) -> (Server, String) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        Server::init_in(dir, data, admin)
    }

    /// As [`Server::init`], with the server's logs (stdout, stderr) in `dir` and its data
    /// directory at `data`, wherever each should be.
    pub(crate) fn init_in(dir: tempfile::TempDir, data: PathBuf, admin: &str) -> (Server, String) {
        let init = Command::new(BIN)
            .args(["init", "--data", path_str(&data), "--admin", admin])
            .env_remove("SITREP_DATA")
            .output()
            .expect("sitrep init runs");
        let stdout = String::from_utf8(init.stdout).expect("init prints UTF-8");
        assert!(init.status.success(), "sitrep init failed: {}", String::from_utf8_lossy(&init.stderr));
        let token = stdout.lines().last().expect("init prints the admin's token last").to_owned();
        (Server::start(dir, Some(data), &[]), token)
    }

    /// `sitrep serve --demo` on an empty data directory: the server and the people it printed.
    pub(crate) fn demo() -> (Server, Vec<DemoUser>) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let server = Server::start(dir, None, &["--demo"]);
        let stdout = server.dir.path().join("stdout.log");
        let printed = eventually("the demo table on stdout", || {
            let text = std::fs::read_to_string(&stdout).ok()?;
            text.contains("sitrep is serving").then_some(text)
        });
        let table = printed.lines().skip_while(|line| !line.trim_start().starts_with("user ")).skip(1);
        let people: Vec<DemoUser> = table
            .map_while(|line| {
                // name, display name (with spaces), role, password, token
                let words: Vec<&str> = line.split_whitespace().collect();
                let [name, .., role, password, token] = words.as_slice() else { return None };
                Some(DemoUser {
                    name: (*name).to_owned(),
                    role: (*role).to_owned(),
                    password: (*password).to_owned(),
                    token: (*token).to_owned(),
                })
            })
            .collect();
        assert_eq!(people.len(), 5, "the demo prints five people:\n{printed}");
        (server, people)
    }

    /// Starts `sitrep serve` on a free port and waits for `/readyz`. `data: None` means a fresh,
    /// empty data directory per attempt (the demo seeds only an empty one).
    fn start(dir: tempfile::TempDir, data: Option<PathBuf>, extra: &[&str]) -> Server {
        let mut failures = Vec::new();
        for attempt in 0..5 {
            let data = data.clone().unwrap_or_else(|| dir.path().join(format!("data-{attempt}")));
            let addr = format!("127.0.0.1:{}", free_port());
            let stdout = File::create(dir.path().join("stdout.log")).expect("a log file");
            let stderr_path = dir.path().join("stderr.log");
            let stderr = File::create(&stderr_path).expect("a log file");
            let child = Command::new(BIN)
                .args(["serve", "--data", path_str(&data), "--listen", &addr])
                .args(extra)
                .env_remove("SITREP_DATA")
                .env_remove("SITREP_DATABASE")
                .env_remove("SITREP_LISTEN")
                .env("RUST_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .expect("sitrep serve starts");
            let mut process = Process(child);
            if wait_ready(&mut process.0, &addr) {
                return Server { _process: process, url: format!("http://{addr}"), addr, data, database: None, dir };
            }
            // It exited before it was ready: most likely something took the port in between.
            failures.push(std::fs::read_to_string(&stderr_path).unwrap_or_default());
        }
        panic!("sitrep serve did not start in five attempts:\n{}", failures.join("\n---\n"));
    }

    /// The server's resident memory now, in bytes (from `/proc`).
    pub(crate) fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self._process.0.id())).expect("/proc");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status");
        kib * 1024
    }

    /// Sends SIGTERM and waits (up to 20 s) for the server to exit; its exit status.
    pub(crate) fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self._process.0.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "SIGTERM was delivered");
        eventually("the server to exit after SIGTERM", || self._process.0.try_wait().ok().flatten())
    }

    /// The client as the holder of `token`, talking to this server.
    pub(crate) fn cli(&self, token: &str) -> Cli {
        Cli { url: Some(self.url.clone()), token: Some(token.to_owned()), config_home: self.config_home(), cwd: None }
    }

    /// The client with nothing configured but its (per-test) config directory.
    pub(crate) fn bare_cli(&self) -> Cli {
        Cli { url: None, token: None, config_home: self.config_home(), cwd: None }
    }

    /// `$XDG_CONFIG_HOME` of every client run against this server: inside its temporary directory.
    pub(crate) fn config_home(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// The number of open live-event streams, from `/metrics`.
    pub(crate) fn live_clients(&self) -> Option<u64> {
        let (status, body) = http_get(&self.addr, "/metrics")?;
        if status != 200 {
            return None;
        }
        body.lines().find_map(|line| line.strip_prefix("sitrep_live_clients ")?.trim().parse().ok())
    }
}

/// One way of running the client: which URL and token it gets from the environment.
#[derive(Debug, Clone)]
pub(crate) struct Cli {
    pub url: Option<String>,
    pub token: Option<String>,
    pub config_home: PathBuf,
    /// The working directory of each run; the test's own when `None`.
    pub cwd: Option<PathBuf>,
}

/// What one client run did.
#[derive(Debug)]
pub(crate) struct Run {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Its stdout, asserting it succeeded.
    pub(crate) fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "`{}` failed; stderr: {}", self.command, self.stderr);
        &self.stdout
    }

    /// Its stdout as one JSON document, asserting it succeeded.
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}):\n{}", self.command, self.stdout))
    }

    /// Its one-line error message, asserting the exit code, nothing on stdout and exactly one
    /// line on stderr.
    pub(crate) fn fails(&self, code: i32) -> &str {
        assert_eq!(self.code, Some(code), "`{}`: stdout {:?}, stderr {:?}", self.command, self.stdout, self.stderr);
        assert_eq!(self.stdout, "", "`{}` printed to stdout although it failed", self.command);
        assert!(
            self.stderr.starts_with("sitrep: ") && self.stderr.ends_with('\n') && self.stderr.lines().count() == 1,
            "`{}`: the error is not one line on stderr: {:?}",
            self.command,
            self.stderr
        );
        self.stderr.trim_end()
    }
}

impl Cli {
    pub(crate) fn with_token(&self, token: Option<&str>) -> Cli {
        Cli { token: token.map(str::to_owned), ..self.clone() }
    }

    pub(crate) fn with_url(&self, url: Option<&str>) -> Cli {
        Cli { url: url.map(str::to_owned), ..self.clone() }
    }

    /// The client run from `dir`, as a person who has `cd`'d there.
    pub(crate) fn in_dir(&self, dir: &Path) -> Cli {
        Cli { cwd: Some(dir.to_owned()), ..self.clone() }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .env_remove("SITREP_URL")
            .env_remove("SITREP_TOKEN")
            .env_remove("SITREP_DATA")
            .env("XDG_CONFIG_HOME", &self.config_home)
            .env("HOME", &self.config_home);
        if let Some(dir) = &self.cwd {
            command.current_dir(dir);
        }
        if let Some(url) = &self.url {
            command.env("SITREP_URL", url);
        }
        if let Some(token) = &self.token {
            command.env("SITREP_TOKEN", token);
        }
        command
    }

    /// Runs `sitrep ARGS` with nothing on stdin.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Runs `sitrep ARGS` with `input` piped to stdin; kills it if it hangs.
    pub(crate) fn run_with_stdin(&self, args: &[&str], input: &str) -> Run {
        let name = format!("sitrep {}", args.join(" "));
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the sitrep binary runs");
        let mut stdin = child.stdin.take().expect("piped stdin");
        // A command that never reads stdin may close it first; that is not the test's concern.
        let _ = stdin.write_all(input.as_bytes());
        drop(stdin);
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().expect("the command's status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("`{name}` did not finish within {PATIENCE:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        Run {
            command: name,
            code: status.code(),
            stdout: stdout.join().expect("stdout reader"),
            stderr: stderr.join().expect("stderr reader"),
        }
    }

    /// Starts a long-running `sitrep ARGS` (e.g. `watch`) whose stdout lines the test reads.
    pub(crate) fn spawn(&self, args: &[&str]) -> Streaming {
        let mut child = self
            .command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the sitrep binary runs");
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Streaming { child, lines, stderr: Some(stderr), command: format!("sitrep {}", args.join(" ")) }
    }
}

fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// A running client command; killed when dropped.
pub(crate) struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    command: String,
}

impl Streaming {
    /// The next line it prints, waiting up to [`PATIENCE`].
    pub(crate) fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(PATIENCE) {
            Ok(line) => line,
            Err(error) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.take().map(|s| s.join().unwrap_or_default()).unwrap_or_default();
                panic!("`{}` printed no further line ({error}); stderr: {stderr}", self.command)
            }
        }
    }

    /// Whether it is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("the command's status").is_none()
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The configuration file a server started by [`Server::init_with_config`] reads.
const CONFIG_FILE: &str = "sitrep.toml";

impl Server {
    /// `sitrep init --admin ADMIN`, then `sitrep serve --config FILE` with this configuration
    /// (destinations, commands, channels): the server and the admin's token.
    pub(crate) fn init_with_config(admin: &str, config: &str) -> (Server, String) {
        Server::init_with(admin, config, None)
    }

    /// As [`Server::init_with_config`], with the records in the PostgreSQL database `database`.
    pub(crate) fn init_on_postgres(admin: &str, database: &str) -> (Server, String) {
        let (mut server, token) = Server::init_with(admin, &format!("database = {database:?}\n"), Some(database));
        server.database = Some(database.to_owned());
        (server, token)
    }

    fn init_with(admin: &str, config: &str, database: Option<&str>) -> (Server, String) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join(CONFIG_FILE);
        std::fs::write(&file, config).expect("the configuration file is written");
        let data = dir.path().join("data");
        let init = Command::new(BIN)
            .args(["init", "--data", path_str(&data), "--admin", admin])
            .args(database.iter().flat_map(|url| ["--database", url]))
            .env_remove("SITREP_DATA")
            .env_remove("SITREP_DATABASE")
            .output()
            .expect("sitrep init runs");
        let stdout = String::from_utf8(init.stdout).expect("init prints UTF-8");
        assert!(init.status.success(), "sitrep init failed: {}", String::from_utf8_lossy(&init.stderr));
        let token = stdout.lines().last().expect("init prints the admin's token last").to_owned();
        let server = Server::start(dir, Some(data), &["--config", path_str(&file)]);
        (server, token)
    }

    /// Sends SIGKILL (no chance to clean up) and waits for the process to be gone.
    pub(crate) fn kill_hard(&mut self) -> std::process::ExitStatus {
        let pid = self._process.0.id().to_string();
        let sent = Command::new("kill").args(["-KILL", &pid]).status().expect("kill runs");
        assert!(sent.success(), "SIGKILL was delivered");
        eventually("the server to die after SIGKILL", || self._process.0.try_wait().ok().flatten())
    }

    /// Starts `sitrep serve` again on the same data directory (and configuration file, if it
    /// had one), after the process ended; on a new port.
    pub(crate) fn restart(self) -> Server {
        let Server { _process: mut process, data, dir, database, .. } = self;
        assert!(process.0.try_wait().expect("the server's status").is_some(), "the old server has stopped");
        let file = dir.path().join(CONFIG_FILE);
        let config = file.exists().then(|| path_str(&file).to_owned());
        let extra: Vec<&str> = config.iter().flat_map(|path| ["--config", path.as_str()]).collect();
        Server { database, ..Server::start(dir, Some(data), &extra) }
    }

    /// `sitrep verify --data DIR` on this server's data directory: its exit code and output.
    pub(crate) fn verify_data(&self) -> (Option<i32>, String) {
        let output = Command::new(BIN)
            .args(["verify", "--data", path_str(&self.data)])
            .args(self.database.iter().flat_map(|url| ["--database", url.as_str()]))
            .env_remove("SITREP_DATA")
            .env_remove("SITREP_DATABASE")
            .output()
            .expect("sitrep verify runs");
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        (output.status.code(), text)
    }
}
