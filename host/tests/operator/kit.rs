//! Test support: a deployment folder (the shipped manifest and mappings with
//! the sandbox's addresses, a vault key, a store, the demo secrets), the
//! sandbox systems, and a runner for the real `ml-connector` binary.

use mlc_host::bundled;
use mlc_sandbox::peoplesoft::{PeopleSoftConfig, PeopleSoftSandbox};
use mlc_sandbox::procurify::{ProcurifyConfig, ProcurifySandbox};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The tenant of the shipped manifest.
pub const TENANT: &str = "sandbox";

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_ml-connector");

/// XDG cache home shared by the binary and in-process hosts of these tests,
/// so components are compiled once per target directory.
pub fn xdg_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Where the host caches precompiled components under [`xdg_cache`].
pub fn component_cache() -> PathBuf {
    xdg_cache().join("ml-connector").join("components")
}

/// A deployment folder, with the sandbox systems when started.
pub struct Kit {
    /// The Procurify sandbox.
    pub procurify: Option<ProcurifySandbox>,
    /// The PeopleSoft sandbox.
    pub peoplesoft: Option<PeopleSoftSandbox>,
    /// The folder (manifest, mappings, key, store).
    pub dir: tempfile::TempDir,
    /// The manifest.
    pub manifest: PathBuf,
}

impl Kit {
    /// Both sandboxes (seeded, `requisitions` requisitions) and a deployment
    /// initialised for them.
    pub async fn start(requisitions: usize, peoplesoft: PeopleSoftConfig) -> Kit {
        let procurify = ProcurifySandbox::start(ProcurifyConfig {
            requisitions,
            ..ProcurifyConfig::default()
        })
        .await
        .expect("Procurify sandbox");
        let peoplesoft = PeopleSoftSandbox::start(peoplesoft)
            .await
            .expect("PeopleSoft sandbox");
        let mut kit = Kit::at(&procurify.base_url(), &peoplesoft.base_url(), |m| m);
        kit.procurify = Some(procurify);
        kit.peoplesoft = Some(peoplesoft);
        kit
    }

    /// A deployment for systems at the given URLs (nothing started), with
    /// key, store and the demo secrets.
    pub fn at(procurify: &str, peoplesoft: &str, edit: impl FnOnce(String) -> String) -> Kit {
        let kit = Kit::uninitialised(procurify, peoplesoft, edit);
        mlc_host::bundled::init_vault(kit.dir.path(), TENANT, mlc_host::bundled::DEMO_SECRETS)
            .expect("key, store, secrets");
        kit
    }

    /// The manifest and mappings only: no key, no store.
    pub fn uninitialised(
        procurify: &str,
        peoplesoft: &str,
        edit: impl FnOnce(String) -> String,
    ) -> Kit {
        let dir = tempfile::tempdir().expect("temp dir");
        let manifest =
            bundled::write_deployment(dir.path(), procurify, peoplesoft, edit).expect("deployment");
        Kit {
            procurify: None,
            peoplesoft: None,
            dir,
            manifest,
        }
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("ml-connector.db")
    }

    /// The key file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("ml-connector.key")
    }

    /// Runs the binary with `args` plus `--manifest <this manifest>`.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push("--manifest".into());
        all.push(self.manifest.display().to_string());
        run(all, None).await
    }

    /// Same, with `stdin` piped in.
    pub async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.push("--manifest".into());
        all.push(self.manifest.display().to_string());
        run(all, Some(stdin.to_string())).await
    }
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

/// A command for the binary with a clean environment for it.
pub fn command(args: &[String]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env("XDG_CACHE_HOME", xdg_cache())
        .env_remove("MLC_MANIFEST")
        .env_remove("MLC_LOG")
        .env_remove("MLC_LOG_FORMAT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs the binary (off the async workers, so in-process sandboxes serve it).
pub async fn run(args: Vec<String>, stdin: Option<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        let mut cmd = command(&args);
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
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

/// One GET over plain HTTP/1.1: (status, body).
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
