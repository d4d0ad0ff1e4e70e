//! The server's log lines, written to stderr in batches rather than one `write` a line.
//!
//! A sign-in logs three lines (two requests and the audit event); written one by one they were
//! three system calls and, on a pipe to a collector, three wake-ups of the reader: about 7% of a
//! sign-in's CPU in the benchmark's profile. Here a line is appended to a buffer; the first line
//! into an empty buffer wakes a writer thread, which waits [`LINGER`] for more and writes them
//! all with one call. So under load the lines cost a few writes a second, and a lone line
//! reaches stderr within a few milliseconds.
//!
//! Nothing is dropped and the order is kept:
//! - warnings and errors are written by the thread that logs them, at once, after whatever the
//!   buffer held (an operator sees a failure when it happens, and a crash right after loses no
//!   warning);
//! - a buffer grown to [`MAX_BUFFERED`] is written by the thread that fills it, so a slow stderr
//!   slows logging down instead of growing memory or losing lines;
//! - every write to stderr takes the output lock first and the buffer's content second, so
//!   batches go out in the order their lines were logged;
//! - a batch is written in pieces of whole lines of at most 4 KiB, which a pipe shared with
//!   other processes (a supervisor's) takes whole, so their lines never land mid-line in ours;
//! - [`flush`] writes what is left; `main` calls it when a command ends, and a panic calls it
//!   before its message.
//!
//! A line logged in the last [`LINGER`] before the process is killed (SIGKILL, power loss) is
//! lost; a line is a report, and nothing durable depends on it (the audit trail is stored in the
//! database by `audit.rs`).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long the writer thread waits, after the first line of a batch, for more lines.
pub const LINGER: Duration = Duration::from_millis(5);

/// Bytes buffered at most; the thread that reaches this writes the batch itself.
pub const MAX_BUFFERED: usize = 64 * 1024;

/// The largest write a Linux pipe takes whole (POSIX `PIPE_BUF`).
const PIPE_BUF: usize = 4096;

/// The batched writer: give it to `tracing_subscriber::fmt().with_writer(..)`; clones share
/// one buffer and one writer thread.
#[derive(Clone)]
pub struct BatchedLog {
    shared: Arc<Shared>,
}

struct Shared {
    /// The lines not yet written.
    pending: Mutex<Vec<u8>>,
    /// Signals the writer thread that `pending` is no longer empty.
    wake: Condvar,
    /// The destination; held while a batch is taken from `pending` and written.
    out: Mutex<Box<dyn Write + Send>>,
    linger: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while a line was appended leaves at worst a partial line: keep logging.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl BatchedLog {
    /// A writer to stderr, with its thread started.
    pub fn stderr() -> std::io::Result<Self> {
        Self::new(Box::new(std::io::stderr()), LINGER)
    }

    /// A writer to `out`, gathering lines for `linger` after the first of a batch.
    pub fn new(out: Box<dyn Write + Send>, linger: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            pending: Mutex::new(Vec::new()),
            wake: Condvar::new(),
            out: Mutex::new(out),
            linger,
        });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("passkeyd-log".into())
            .spawn(move || worker.run())?;
        Ok(BatchedLog { shared })
    }

    /// Writes every buffered line now.
    pub fn flush(&self) {
        self.shared.write_out(&[]);
    }
}

impl Shared {
    /// The writer thread: it lives as long as the process.
    fn run(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.is_empty() {
                    pending = self.wake.wait(pending).unwrap_or_else(|p| p.into_inner());
                }
            }
            std::thread::sleep(self.linger);
            self.write_out(&[]);
        }
    }

    /// Buffers a line; wakes the writer thread if it is the first of a batch, or writes the
    /// batch here if the buffer is full.
    fn append(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        if pending.len() + line.len() > MAX_BUFFERED {
            drop(pending);
            self.write_out(line);
            return;
        }
        let first = pending.is_empty();
        pending.extend_from_slice(line);
        drop(pending);
        if first {
            self.wake.notify_one();
        }
    }

    /// Writes what is buffered, then `line`, under the output lock (so batches keep their
    /// order). A failing stderr cannot be reported anywhere: the lines are dropped.
    fn write_out(&self, line: &[u8]) {
        let mut out = lock(&self.out);
        let mut batch = std::mem::take(&mut *lock(&self.pending));
        if batch.is_empty() && line.is_empty() {
            return;
        }
        batch.extend_from_slice(line);
        for piece in pieces(&batch) {
            if out.write_all(piece).and_then(|()| out.flush()).is_err() {
                return;
            }
        }
    }
}

/// The batch cut after a newline into writes of at most [`PIPE_BUF`] bytes where it can be: a
/// pipe that several processes share (a supervisor's) takes such a write whole, so their
/// lines do not interleave mid-line. A longer line goes alone, as it would unbatched.
fn pieces(batch: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = batch;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let window = &rest[..rest.len().min(PIPE_BUF)];
        let end = if window.len() == rest.len() {
            rest.len()
        } else {
            match window.iter().rposition(|&b| b == b'\n') {
                Some(i) => i + 1,
                // No newline within the limit: the whole of this long line.
                None => rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1),
            }
        };
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// What `tracing` writes one event through: buffered, or at once for warnings and errors.
pub struct LineWriter<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.urgent {
            self.shared.write_out(buf);
        } else {
            self.shared.append(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedLog {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        LineWriter {
            shared: &self.shared,
            // Levels order by verbosity: WARN and ERROR are the ones at most WARN.
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

/// The process's log writer, once `install` made it (`None` if its thread could not start).
static INSTALLED: OnceLock<Option<BatchedLog>> = OnceLock::new();

/// Makes the process's stderr writer once (later calls return the same one), and has a panic
/// flush it before its message. `None` if its thread could not start: the caller logs
/// unbatched.
pub fn install() -> Option<BatchedLog> {
    INSTALLED
        .get_or_init(|| {
            let log = BatchedLog::stderr().ok()?;
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                flush();
                previous(info);
            }));
            Some(log)
        })
        .clone()
}

/// Writes what the process's log writer still holds (nothing if none was installed).
pub fn flush() {
    if let Some(Some(log)) = INSTALLED.get() {
        log.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// A destination that records each write call.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(&self.0).push(buf.to_vec());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Recorder {
        fn writes(&self) -> usize {
            lock(&self.0).len()
        }
        fn text(&self) -> String {
            String::from_utf8(lock(&self.0).concat()).unwrap()
        }
    }

    fn line(log: &BatchedLog, text: &str, level: Level) {
        let mut writer = LineWriter {
            shared: &log.shared,
            urgent: level <= Level::WARN,
        };
        writer.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn lines_logged_together_are_written_together_and_in_order() {
        let out = Recorder::default();
        // A long linger: the batch is only written by the flush.
        let log = BatchedLog::new(Box::new(out.clone()), Duration::from_secs(60)).unwrap();
        let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
        for i in 0..100 {
            line(&log, &format!("line {i}\n"), Level::INFO);
        }
        assert_eq!(out.writes(), 0, "buffered");
        log.flush();
        assert_eq!(out.writes(), 1, "one write for the batch");
        assert_eq!(out.text(), expected);
    }

    #[test]
    fn a_warning_is_written_at_once_after_the_lines_before_it() {
        let out = Recorder::default();
        let log = BatchedLog::new(Box::new(out.clone()), Duration::from_secs(60)).unwrap();
        line(&log, "first\n", Level::INFO);
        line(&log, "second\n", Level::DEBUG);
        line(&log, "trouble\n", Level::WARN);
        assert_eq!(out.text(), "first\nsecond\ntrouble\n");
        line(&log, "failure\n", Level::ERROR);
        assert_eq!(out.text(), "first\nsecond\ntrouble\nfailure\n");
    }

    #[test]
    fn the_writer_thread_writes_a_lone_line_without_a_flush() {
        let out = Recorder::default();
        let log = BatchedLog::new(Box::new(out.clone()), Duration::from_millis(1)).unwrap();
        for round in 0..3 {
            line(&log, &format!("alone {round}\n"), Level::INFO);
            let deadline = Instant::now() + Duration::from_secs(10);
            while out.writes() <= round && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(out.writes(), round + 1, "round {round}");
        }
        assert_eq!(out.text(), "alone 0\nalone 1\nalone 2\n");
    }

    #[test]
    fn a_full_buffer_is_written_by_the_thread_that_fills_it() {
        let out = Recorder::default();
        let log = BatchedLog::new(Box::new(out.clone()), Duration::from_secs(60)).unwrap();
        let text = format!("{}\n", "x".repeat(999));
        let lines = MAX_BUFFERED / text.len() + 10;
        for _ in 0..lines {
            line(&log, &text, Level::INFO);
        }
        assert!(out.writes() >= 1, "written without the writer thread");
        log.flush();
        assert_eq!(out.text(), text.repeat(lines), "nothing lost");
    }

    #[test]
    fn a_batch_is_written_in_pieces_a_pipe_takes_whole() {
        let line = format!("{}\n", "x".repeat(99));
        let batch = line.repeat(100);
        let cut: Vec<&[u8]> = pieces(batch.as_bytes()).collect();
        assert_eq!(cut.concat(), batch.as_bytes());
        assert!(cut
            .iter()
            .all(|p| p.len() <= PIPE_BUF && p.ends_with(b"\n")));
        assert_eq!(cut.len(), 3, "40 lines of 100 bytes a piece");
        // A line longer than the limit goes alone; the short ones around it stay together.
        let long = format!("{}\n", "y".repeat(PIPE_BUF * 2));
        let mixed = format!("a\nb\n{long}c\n");
        let cut: Vec<&[u8]> = pieces(mixed.as_bytes()).collect();
        assert_eq!(cut, [b"a\nb\n".as_slice(), long.as_bytes(), b"c\n"]);
        // A batch that does not end with a newline (a partial write) loses nothing.
        let unended = "a\nb".repeat(2000);
        assert_eq!(pieces_concat(&unended), unended);
        assert_eq!(pieces(b"").count(), 0);
    }

    fn pieces_concat(text: &str) -> String {
        String::from_utf8(pieces(text.as_bytes()).collect::<Vec<_>>().concat()).unwrap()
    }

    #[test]
    fn lines_from_many_threads_all_arrive_whole() {
        let out = Recorder::default();
        let log = BatchedLog::new(Box::new(out.clone()), Duration::from_millis(1)).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..500 {
                        let level = if i % 50 == 0 {
                            Level::WARN
                        } else {
                            Level::INFO
                        };
                        line(log, &format!("t{t} {i}\n"), level);
                    }
                });
            }
        });
        log.flush();
        let text = out.text();
        let mut seen: Vec<&str> = text.lines().collect();
        assert_eq!(seen.len(), 2000);
        // Each thread's lines in the order it logged them.
        for t in 0..4 {
            let prefix = format!("t{t} ");
            let own: Vec<usize> = seen
                .iter()
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(own, (0..500).collect::<Vec<_>>(), "thread {t}");
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 2000);
    }
}
