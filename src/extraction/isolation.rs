//! Files from outside are read in a child process, never in the server.
//!
//! A PDF whose forms draw each other overflows the stack of any recursive parser, and an
//! abort cannot be caught; a compressed stream inflates to gigabytes; an image header declares
//! 10^12 pixels. So the text of PDFs, emails and scans is read by a long-lived child — this
//! same program run as `ged extract-worker` — with limits on its address space (`RLIMIT_AS`),
//! its processor time per file (`RLIMIT_CPU`), its wall time (the server kills it), the size
//! of its answer and the depth of its parser's stack. Tesseract and `pdftoppm` are its own
//! children and inherit the limits. One child reads one file at a time; a file that kills it
//! fails its own job with a reason, and the next file gets a fresh child.
//!
//! The protocol, on the child's standard input and output: a JSON [`ReadRequest`] on one line
//! followed by the file's bytes; the child answers an [`ExtractionOutcome`] as JSON on one line.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::process::{ExitCode, ExitStatus, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::ExtractionOutcome;
use super::ocr::Ocr;
use super::reading::{self, ReadRequest};

/// The hidden subcommand that runs this program as the extraction process.
pub const SUBCOMMAND: &str = "extract-worker";

/// Limits on reading files from outside: the `[untrusted_files]` section of the
/// configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UntrustedFileLimits {
    /// Address space of the extraction process, and of each OCR program it runs, in MiB.
    pub memory_mib: u64,
    /// Processor time one file may take in the extraction process (and each OCR program run
    /// for it), in seconds.
    pub cpu_seconds: u64,
    /// Wall time one file may take, OCR of a long scan included, in seconds: past it the
    /// process and its programs are killed.
    pub wall_seconds: u64,
    /// Images declaring more pixels than this are not given to OCR.
    pub max_image_pixels: u64,
    /// An email's attachments past this many are not archived as documents of their own
    /// (they stay inside the archived `.eml`).
    pub max_email_attachments: usize,
    /// The program run as the extraction process (`<program> extract-worker`); this program
    /// when unset.
    pub extraction_program: Option<PathBuf>,
}

impl Default for UntrustedFileLimits {
    fn default() -> Self {
        Self {
            memory_mib: 1024,
            cpu_seconds: 120,
            wall_seconds: 15 * 60,
            max_image_pixels: 100_000_000,
            max_email_attachments: 100,
            extraction_program: None,
        }
    }
}

/// Tries per file when the extraction process dies for a reason other than its time limits
/// (a second chance in case the machine, not the file, killed it).
const TRIES: u32 = 2;
/// The largest answer read from the child: the bounded text, JSON-escaped at worst.
const MAX_ANSWER_BYTES: u64 = 8 * super::MAX_TEXT_BYTES as u64 + 64 * 1024;
/// The end of the child's standard error read for the reason of its death.
const STDERR_TAIL_BYTES: u64 = 4096;

/// The server's handle on the extraction process: started at the first file, started again
/// after a file killed it.
pub struct IsolatedReader {
    program: PathBuf,
    limits: UntrustedFileLimits,
    scratch: PathBuf,
    running: Option<Running>,
}

struct Running {
    child: Child,
    /// What the child writes on its standard error (a panic, "stack overflow"): an unnamed
    /// file of the scratch folder, read for the reason of its death.
    stderr: std::fs::File,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// Why a file got no answer from the extraction process.
enum Interrupted {
    /// The process died or was killed; `retry` when another try may go otherwise.
    Died { reason: String, retry: bool },
    /// The process cannot be started: nothing to do with the file.
    CannotStart(String),
}

impl IsolatedReader {
    pub fn new(limits: UntrustedFileLimits, scratch: PathBuf) -> Self {
        let program = limits
            .extraction_program
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("ged"));
        Self {
            program,
            limits,
            scratch,
            running: None,
        }
    }

    /// The text of one file read by the extraction process; a file that kills it twice (or
    /// once past its time limits) fails with the reason.
    pub async fn read(
        &mut self,
        media_type: &str,
        bytes: &[u8],
        ocr: Option<&Ocr>,
    ) -> ExtractionOutcome {
        let request = ReadRequest {
            media_type: media_type.to_string(),
            size: bytes.len() as u64,
            scratch: self.scratch.clone(),
            ocr: ocr.cloned(),
            max_image_pixels: self.limits.max_image_pixels,
            memory_bytes: self.limits.memory_mib.saturating_mul(1024 * 1024),
            cpu_seconds: self.limits.cpu_seconds,
        };
        let mut tries = 0;
        loop {
            tries += 1;
            match self.exchange(&request, bytes).await {
                Ok(outcome) => return outcome,
                Err(Interrupted::CannotStart(reason)) => return ExtractionOutcome::Retry(reason),
                Err(Interrupted::Died { reason, retry }) => {
                    tracing::warn!(%reason, tries, "a file stopped the text extraction process");
                    if !retry || tries >= TRIES {
                        return ExtractionOutcome::Failed(if tries > 1 {
                            format!("{reason} ({tries} tries)")
                        } else {
                            reason
                        });
                    }
                }
            }
        }
    }

    /// The extraction process's id, while it runs.
    pub fn process_id(&self) -> Option<u32> {
        self.running.as_ref().and_then(|running| running.child.id())
    }

    async fn exchange(
        &mut self,
        request: &ReadRequest,
        bytes: &[u8],
    ) -> Result<ExtractionOutcome, Interrupted> {
        if self.running.is_none() {
            self.running = Some(self.spawn().map_err(|error| {
                Interrupted::CannotStart(format!(
                    "cannot start the text extraction process {}: {error}",
                    self.program.display()
                ))
            })?);
        }
        let running = self.running.as_mut().expect("started above");
        let mut line = serde_json::to_vec(request).expect("requests serialise");
        line.push(b'\n');
        let talk = async {
            running.stdin.write_all(&line).await?;
            running.stdin.write_all(bytes).await?;
            running.stdin.flush().await?;
            let mut answer = Vec::new();
            (&mut running.stdout)
                .take(MAX_ANSWER_BYTES)
                .read_until(b'\n', &mut answer)
                .await?;
            std::io::Result::Ok(answer)
        };
        let wall = Duration::from_secs(self.limits.wall_seconds);
        let answer = match tokio::time::timeout(wall, talk).await {
            Ok(Ok(answer)) if answer.ends_with(b"\n") => answer,
            Ok(Ok(answer)) if answer.len() as u64 >= MAX_ANSWER_BYTES => {
                self.stop().await;
                return Err(Interrupted::Died {
                    reason: format!(
                        "the text extraction answered more than {} MiB",
                        MAX_ANSWER_BYTES >> 20
                    ),
                    retry: false,
                });
            }
            // The process closed its output or its input: it is dead or dying.
            Ok(_) => {
                let (status, stderr) = self.stop().await.unzip();
                return Err(self.death(status.flatten(), stderr));
            }
            Err(_) => {
                self.stop().await;
                return Err(Interrupted::Died {
                    reason: format!(
                        "reading the file took longer than {} s",
                        self.limits.wall_seconds
                    ),
                    retry: false,
                });
            }
        };
        serde_json::from_slice(&answer).map_err(|error| {
            // Not an answer this program writes: start afresh.
            self.running = None;
            Interrupted::Died {
                reason: format!("the text extraction answered unreadably: {error}"),
                retry: true,
            }
        })
    }

    fn spawn(&self) -> std::io::Result<Running> {
        let stderr = tempfile::tempfile_in(&self.scratch)?;
        let kept = stderr.try_clone()?;
        let mut child = tokio::process::Command::new(&self.program)
            .arg(SUBCOMMAND)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            // Its own process group: a kill reaches the OCR programs it runs.
            .process_group(0)
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        tracing::debug!(pid = child.id(), "text extraction process started");
        Ok(Running {
            child,
            stderr: kept,
            stdin,
            stdout,
        })
    }

    /// Kills the process and the programs it runs; how it ended, and its standard error.
    async fn stop(&mut self) -> Option<(Option<ExitStatus>, std::fs::File)> {
        let mut running = self.running.take()?;
        if let Some(pid) = running
            .child
            .id()
            .and_then(|pid| rustix::process::Pid::from_raw(pid as i32))
        {
            // Already dead, or its group already gone: nothing to kill.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        Some((running.child.wait().await.ok(), running.stderr))
    }

    /// Why the process died, from its exit status and the last thing it wrote.
    fn death(&self, status: Option<ExitStatus>, stderr: Option<std::fs::File>) -> Interrupted {
        use std::os::unix::fs::FileExt;
        use std::os::unix::process::ExitStatusExt;
        let mut tail = vec![0; STDERR_TAIL_BYTES as usize];
        let read = stderr.map_or(0, |file| {
            let length = file.metadata().map_or(0, |metadata| metadata.len());
            // At an offset of its own: the child's descriptor shares the file's cursor.
            file.read_at(&mut tail, length.saturating_sub(STDERR_TAIL_BYTES))
                .unwrap_or(0)
        });
        let stderr = String::from_utf8_lossy(&tail[..read]);
        let signal = status.and_then(|status| status.signal());
        let status = status.map_or("unknown".to_string(), |status| status.to_string());
        if signal == Some(rustix::process::Signal::XCPU.as_raw()) {
            return Interrupted::Died {
                reason: format!(
                    "reading the file used more than {} s of processor time \
                     (setting untrusted_files.cpu_seconds)",
                    self.limits.cpu_seconds
                ),
                retry: false,
            };
        }
        // The limits' deaths are the file's doing: the same file would die the same way.
        if stderr.contains("stack overflow") || stderr.contains("overflowed its stack") {
            return Interrupted::Died {
                reason: "the file nests deeper than the text extraction reads \
                         (its reader ran out of stack)"
                    .to_string(),
                retry: false,
            };
        }
        if stderr.contains("memory allocation") || stderr.contains("out of memory") {
            return Interrupted::Died {
                reason: format!(
                    "reading the file needs more than the {} MiB of memory the text extraction \
                     has (setting untrusted_files.memory_mib)",
                    self.limits.memory_mib
                ),
                retry: false,
            };
        }
        // Killed from outside (the kernel's OOM killer on a loaded machine), or a fault the
        // file may not cause again: one more try.
        Interrupted::Died {
            reason: format!("the file stopped the text extraction process ({status})"),
            retry: true,
        }
    }
}

/// `ged extract-worker`: reads files from standard input one at a time and answers their
/// text on standard output, until its input closes.
pub fn run_extraction_process() -> ExitCode {
    // The server gone, this process has no one to answer.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    // A killed reader must not write a core file of its whole address space.
    let _ = rustix::process::setrlimit(
        rustix::process::Resource::Core,
        rustix::process::Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ged extract-worker: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    let mut line = String::new();
    loop {
        line.clear();
        match input.read_line(&mut line) {
            Ok(0) => return ExitCode::SUCCESS,
            Ok(_) => {}
            Err(error) => {
                eprintln!("ged extract-worker: cannot read a request: {error}");
                return ExitCode::FAILURE;
            }
        }
        let request: ReadRequest = match serde_json::from_str(&line) {
            Ok(request) => request,
            Err(error) => {
                eprintln!("ged extract-worker: unreadable request: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut bytes = Vec::new();
        if let Err(error) = (&mut input).take(request.size).read_to_end(&mut bytes) {
            eprintln!("ged extract-worker: cannot read a file: {error}");
            return ExitCode::FAILURE;
        }
        apply_limits(&request);
        let outcome = runtime.block_on(reading::read(&request, bytes));
        let mut answer = serde_json::to_vec(&outcome).expect("outcomes serialise");
        answer.push(b'\n');
        if output
            .write_all(&answer)
            .and_then(|()| output.flush())
            .is_err()
        {
            return ExitCode::FAILURE;
        }
    }
}

/// Limits this process (and the programs it starts from now on) for the next file: its
/// address space, and processor time counted from what it used so far.
fn apply_limits(request: &ReadRequest) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = |resource, current: u64| {
        let maximum = getrlimit(resource).maximum;
        let current = maximum.map_or(current, |maximum| current.min(maximum));
        if let Err(error) = setrlimit(
            resource,
            Rlimit {
                current: Some(current),
                maximum,
            },
        ) {
            eprintln!("ged extract-worker: cannot set a limit ({resource:?}): {error}");
        }
    };
    limit(Resource::As, request.memory_bytes);
    let used = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    limit(
        Resource::Cpu,
        (used.tv_sec.max(0) as u64).saturating_add(request.cpu_seconds.max(1)),
    );
}
