//! The real `ml-connector` binary: where it is, where tests cache compiled
//! components (shared by the binary and in-process hosts), and running it
//! with a clean environment.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// `target/<profile>` of the running test binary (`target/<profile>/deps/<test>`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary knows its path");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The `ml-connector` binary of the running test binary's profile
/// (`target/<profile>/ml-connector`); built with cargo in that profile when
/// missing (a crate's tests only get their own package's binaries built).
pub fn binary() -> PathBuf {
    let profile_dir = profile_dir();
    let bin = profile_dir.join(format!("ml-connector{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let target_dir = profile_dir.parent().expect("target/<profile> has a parent");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-p", "mlc-host", "--bin", "ml-connector"])
            .env("CARGO_TARGET_DIR", target_dir);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("cargo runs to build ml-connector");
        assert!(status.success(), "building ml-connector failed");
    }
    assert!(bin.exists(), "no ml-connector binary at {}", bin.display());
    bin
}

/// `XDG_CACHE_HOME` of every binary the kit runs, under the target directory
/// so that components are compiled once per target directory.
pub fn xdg_cache() -> PathBuf {
    profile_dir().join("mlc-test-cache")
}

/// Where the binary caches precompiled components under [`xdg_cache`]; the
/// in-process hosts and runtimes of the tests use the same folder.
pub fn component_cache() -> PathBuf {
    xdg_cache().join("ml-connector").join("components")
}

/// The binary with `args` and a clean environment for it (the tests' cache,
/// none of the caller's `MLC_*` settings), stdin closed, output piped.
pub fn command<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Command {
    let mut cmd = Command::new(binary());
    cmd.args(args)
        .env("XDG_CACHE_HOME", xdg_cache())
        .env_remove("MLC_MANIFEST")
        .env_remove("MLC_LOG")
        .env_remove("MLC_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// What a run of the binary left.
#[derive(Debug)]
pub struct Output {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// Runs the binary to its end (off the async workers, so that in-process
/// sandboxes keep serving it), with `stdin` piped in when given.
pub async fn run(args: Vec<String>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = command(&args);
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("the binary starts");
        if let Some(text) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(text.as_bytes()).expect("stdin written");
        }
        let out = child.wait_with_output().expect("the binary ends");
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("runner")
}

/// Asserts the exit code, showing the output when it differs.
pub fn assert_code(out: &Output, code: i32) {
    assert_eq!(
        out.code, code,
        "exit code\n--- stdout\n{}\n--- stderr\n{}",
        out.stdout, out.stderr
    );
}

/// One GET over plain HTTP/1.1 (the daemon's status page): (status, body).
pub async fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .expect("request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // Responses here carry a Content-Length (hyper with full bodies), not chunks.
    (status, body.to_string())
}
