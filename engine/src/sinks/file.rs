//! A file sink: a topic's events appended to a file as CloudEvents JSON lines (docs/semantics.md,
//! "External topics").
//!
//! Each batch is written under an exclusive lock on the file (several `weft` processes may share one
//! sink file), each line in one `write` call (JSON and newline together, so a kill cannot leave half a
//! line followed by the next one), and the file is synced (`fdatasync`) before the events are reported
//! written (and its folder, once, when the sink created the file): only then may the commit that
//! acknowledges them be made, so a power loss cannot lose an acknowledged line. A line a crash did cut short is always the file's last: the next writer finds the
//! file not ending in a newline and cuts that fragment off (its event was never acknowledged, and is
//! written again whole).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// One topic's file.
pub struct FileSink {
    path: PathBuf,
    file: Option<File>,
}

impl FileSink {
    /// The sink writing to `path` (opened on first use).
    pub fn new(path: PathBuf) -> Self {
        FileSink { path, file: None }
    }

    /// The file it writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append `lines` (each a JSON text without its newline), then sync the file.
    ///
    /// Errors: what failed, naming the file; nothing written counts as published.
    pub fn append<'a>(&mut self, lines: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
        let failed = |what: &str, e: std::io::Error| format!("cannot {what} {}: {e}", self.path.display());
        if self.file.is_none() {
            let created = !self.path.exists();
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| failed("open", e))?;
            if created {
                // The new file's name must survive a power loss as its synced lines do.
                let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                File::open(folder).and_then(|d| d.sync_all()).map_err(|e| failed("sync the folder of", e))?;
            }
            self.file = Some(file);
        }
        let Some(file) = self.file.as_mut() else { return Err(format!("cannot open {}", self.path.display())) };
        file.lock().map_err(|e| failed("lock", e))?;
        let written = write_locked(file, lines).map_err(|e| failed("write to", e));
        let unlocked = file.unlock().map_err(|e| failed("unlock", e));
        written.and(unlocked)
    }
}

/// Repair a torn last line, append `lines`, sync: with the file locked.
fn write_locked<'a>(file: &mut File, lines: impl IntoIterator<Item = &'a str>) -> std::io::Result<()> {
    repair(file)?;
    let mut line = String::new();
    for json in lines {
        line.clear();
        line.push_str(json);
        line.push('\n');
        file.write_all(line.as_bytes())?;
    }
    file.sync_data()
}

/// Cut off what follows the file's last newline: the fragment of a line whose writer was killed.
fn repair(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Find the last newline, reading back a block at a time.
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    let keep = loop {
        let start = end.saturating_sub(block.len() as u64);
        let part = &mut block[..usize::try_from(end - start).unwrap_or(0)];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(part)?;
        if let Some(i) = part.iter().rposition(|b| *b == b'\n') {
            break start + i as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    tracing::warn!(cut = len - keep, "a sink file ended in a line cut short by a crash; the fragment was removed");
    file.set_len(keep)?;
    file.sync_data()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_last_line_is_cut_off_before_the_next_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topic.jsonl");
        std::fs::write(&path, "{\"id\":\"a-1\"}\n{\"id\":\"a-2\",\"da").unwrap();
        let mut sink = FileSink::new(path.clone());
        sink.append(["{\"id\":\"a-2\"}", "{\"id\":\"a-3\"}"]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"id\":\"a-1\"}\n{\"id\":\"a-2\"}\n{\"id\":\"a-3\"}\n");
        std::fs::write(&path, "no newline at all").unwrap();
        FileSink::new(path.clone()).append(["{}"]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}\n");
    }
}
