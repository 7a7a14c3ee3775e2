//! Work done in a child process of the same binary, so that whatever a hostile
//! scene does to it (an abort on a huge allocation, a stack overflow, a GPU
//! fault, a signal, an endless loop) ends the child and never the worker or
//! the coordinator that started it.
//!
//! The pieces both sides share: spawning `tessera <hidden subcommand>` with
//! piped stdio, framed messages on the pipes, the child's stderr forwarded
//! line by line into the parent's log (keeping the last line for the error
//! message), a panic hook that keeps the panic's text, how a child's end is
//! described ("signal 6 (SIGABRT)"), and the redaction of local paths from
//! messages that leave the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Hidden subcommand of the worker's render process.
pub const RENDER_SUBCOMMAND: &str = "render-process";
/// Hidden subcommand of the coordinator's scene check.
pub const CHECK_SUBCOMMAND: &str = "check-scene";

/// Starts `tessera <subcommand>` with stdin, stdout and stderr piped.
pub fn spawn(subcommand: &str) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    Command::new(exe).arg(subcommand).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()
}

/// How a child ended, for people: "exit status 3" or "signal 6 (SIGABRT)".
pub fn describe_exit(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return format!("signal {signal} ({})", signal_name(signal));
        }
    }
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => "unknown signal",
    }
}

/// Largest message accepted from a child, besides a tile result.
pub const MAX_MESSAGE: usize = 1 << 20;

/// Writes one frame: a tag byte, the payload length (u64, little-endian), the payload.
pub fn write_frame(out: &mut impl Write, tag: u8, payload: &[u8]) -> std::io::Result<()> {
    out.write_all(&[tag])?;
    out.write_all(&(payload.len() as u64).to_le_bytes())?;
    out.write_all(payload)?;
    out.flush()
}

/// Reads one frame of at most `max` payload bytes; `None` at a clean end of stream.
pub fn read_frame(input: &mut impl Read, max: usize) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let mut head = [0u8; 9];
    match input.read_exact(&mut head[..1]) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    input.read_exact(&mut head[1..])?;
    let len = u64::from_le_bytes(head[1..].try_into().expect("8 bytes"));
    if len > max as u64 {
        return Err(std::io::Error::other(format!("a {len}-byte message is over the {max}-byte limit")));
    }
    let mut payload = vec![0u8; len as usize];
    input.read_exact(&mut payload)?;
    Ok(Some((head[0], payload)))
}

/// Lines of a child's stderr kept for its error message.
const TAIL_LINES: usize = 32;

/// Forwards a child's stderr into this process's log, keeping its last lines.
pub struct StderrTail {
    last: Arc<Mutex<std::collections::VecDeque<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl StderrTail {
    pub fn start(stderr: ChildStderr, label: String) -> Self {
        let last = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let keep = last.clone();
        let thread = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{label}] {line}");
                let mut tail = keep.lock().expect("stderr tail lock");
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Self { last, thread: Some(thread) }
    }

    /// The child's last lines, once its stderr is closed (it has exited).
    pub fn finish(&mut self) -> Vec<String> {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.last.lock().expect("stderr tail lock").iter().cloned().collect()
    }
}

/// The one line of a dying child's stderr worth passing on: the allocator's
/// "memory allocation of N bytes failed" (it names a size, not file content).
pub fn allocation_failure(lines: &[String]) -> Option<&str> {
    lines.iter().rev().map(|l| l.trim()).find(|line| {
        line.strip_prefix("memory allocation of ")
            .and_then(|rest| rest.strip_suffix(" bytes failed"))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Panic text kept by [`install_panic_hook`] for the child's error reply.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// In a child: panics still print as usual, and their text (message and source
/// location) is kept for [`last_panic`].
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.to_string().replace('\n', " ");
        }
        default(info);
    }));
}

/// The text of the latest panic in this process.
pub fn last_panic() -> String {
    LAST_PANIC.lock().map(|s| s.clone()).unwrap_or_default()
}

/// Replaces local folders in a message that leaves this machine: `bundle`
/// (its files are named relative to it) and other private folders, each by a
/// placeholder. Both the path as given and its canonical form are replaced.
pub fn redact(message: &str, bundle: &Path, private: &[(&Path, &str)]) -> String {
    let mut out = message.to_string();
    let mut rules: Vec<(String, String)> = Vec::new();
    for (path, placeholder) in std::iter::once((bundle, "")).chain(private.iter().copied()) {
        for form in forms(path) {
            let text = form.display().to_string();
            if text.is_empty() || text == "/" {
                continue;
            }
            let with_slash = format!("{}/", text.trim_end_matches('/'));
            let slash_replacement = if placeholder.is_empty() { String::new() } else { format!("{placeholder}/") };
            rules.push((with_slash, slash_replacement));
            rules.push((text, if placeholder.is_empty() { ".".into() } else { placeholder.to_string() }));
        }
    }
    // Longest first, so a folder is replaced before any folder above it.
    rules.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    for (from, to) in rules {
        out = out.replace(&from, &to);
    }
    out
}

fn forms(path: &Path) -> Vec<PathBuf> {
    let mut forms = vec![path.to_path_buf()];
    if let Ok(canonical) = path.canonicalize() {
        if canonical != path {
            forms.push(canonical);
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        if path.is_relative() {
            forms.push(cwd.join(path));
        }
    }
    forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_oversized_ones_are_refused() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b'R', b"hello").unwrap();
        write_frame(&mut buf, b'E', b"").unwrap();
        let mut input = &buf[..];
        assert_eq!(read_frame(&mut input, 10).unwrap(), Some((b'R', b"hello".to_vec())));
        assert_eq!(read_frame(&mut input, 10).unwrap(), Some((b'E', Vec::new())));
        assert_eq!(read_frame(&mut input, 10).unwrap(), None);
        let mut input = &buf[..];
        assert!(read_frame(&mut input, 4).unwrap_err().to_string().contains("over the 4-byte limit"));
        let mut cut = &buf[..7];
        assert!(read_frame(&mut cut, 10).is_err(), "a frame cut short is an error, not an end");
    }

    #[test]
    fn local_folders_are_redacted_longest_first() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        let bundle = cache.join("scenes/abc");
        std::fs::create_dir_all(&bundle).unwrap();
        let message = format!(
            "{}/tex/a.png: cannot decode; {}/blobs/x is busy; see {}",
            bundle.display(),
            cache.display(),
            bundle.display()
        );
        let clean = redact(&message, &bundle, &[(&cache, "<worker cache>")]);
        assert_eq!(clean, "tex/a.png: cannot decode; <worker cache>/blobs/x is busy; see .");
        assert!(!clean.contains(&dir.path().display().to_string()));
    }

    #[test]
    fn only_the_allocators_message_is_passed_on() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let died = lines(&["memory allocation of 51539607540 bytes failed", "note: run with `RUST_BACKTRACE=1`"]);
        assert_eq!(allocation_failure(&died), Some("memory allocation of 51539607540 bytes failed"));
        assert_eq!(allocation_failure(&lines(&["memory allocation of secret bytes failed"])), None);
        assert_eq!(allocation_failure(&lines(&["thread 'main' panicked at x"])), None);
    }

    #[cfg(unix)]
    #[test]
    fn signals_are_named() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(describe_exit(ExitStatus::from_raw(6)), "signal 6 (SIGABRT)");
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "signal 9 (SIGKILL)");
        assert_eq!(describe_exit(ExitStatus::from_raw(3 << 8)), "exit status 3");
    }
}
