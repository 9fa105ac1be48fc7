//! A real S3-compatible server for the tests (`s3s-fs`, from crates.io: `cargo install s3s-fs
//! --version 0.14.1 --features binary`), and `ged serve` keeping its content there.
//!
//! Without `s3s-fs` on the PATH the tests that need it say they were skipped, unless
//! `GED_REQUIRE_S3` is set, as `.ci/run` does: there they fail.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use object_store::aws::{AmazonS3Builder, Checksum};

use crate::helpers::{ANY_PORT, Served, ged_command, start_serving};

pub const ACCESS_KEY: &str = "ged-test";
pub const SECRET_KEY: &str = "ged-test-secret";
pub const BUCKET: &str = "archive";

/// An `s3s-fs` process serving a fresh folder, with the bucket `archive`; stopped on drop.
pub struct S3Server {
    child: Child,
    port: u16,
    _root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn builder(&self) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_checksum_algorithm(Checksum::SHA256)
    }
}

pub async fn s3_server(test: &str) -> Option<S3Server> {
    let installed = Command::new("s3s-fs")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !installed {
        assert!(
            std::env::var_os("GED_REQUIRE_S3").is_none(),
            "GED_REQUIRE_S3 is set but s3s-fs is not installed"
        );
        eprintln!(
            "SKIPPED {test}: needs an S3 server: cargo install s3s-fs --version 0.14.1 --features binary"
        );
        return None;
    }
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join(BUCKET)).unwrap();
    // s3s-fs takes its port as a number chosen here, which another program may take before
    // s3s-fs binds it: then s3s-fs exits at once, and it starts again on another port.
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new("s3s-fs")
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                eprintln!("s3s-fs exited at start ({status}): port {port} taken?");
                break;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(S3Server {
                    child,
                    port,
                    _root: root,
                });
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("s3s-fs did not start on port {port}");
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    panic!("s3s-fs could not start on any of five ports");
}

/// A port free when asked, for a program that cannot bind port 0 and say which port it got.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `ged serve` with `--store s3://…`, its credentials from the AWS variables, on a port the
/// system picks; returns once it answers.
pub async fn serve_on_s3(server: &S3Server, data_dir: &Path) -> Served {
    let data = data_dir.to_str().expect("UTF-8 path");
    let mut command = ged_command(&["--data-dir", data]);
    command.args(["serve", "--data-dir", data]);
    with_s3_env(&mut command, server)
        .args(["--store", &format!("s3://{BUCKET}/prod")])
        .stdout(Stdio::null());
    start_serving(command, ANY_PORT).await
}

/// The test server's settings, and none of the caller's own AWS settings.
pub fn with_s3_env<'a>(command: &'a mut Command, server: &S3Server) -> &'a mut Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env_remove("GED_CONFIG")
        .env("AWS_ENDPOINT", server.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
}
