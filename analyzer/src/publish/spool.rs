//! The alert spool: an append-only on-disk log of alerts not yet acknowledged by Kafka.
//!
//! Design decisions:
//! - **Segments of length-prefixed, checksummed records.** `spool/NNNNNNNNNNNNNNNNNNNN.seg`
//!   is named by the sequence number of its first record. A record is
//!   `[len u32][crc32 u32][seq u64][key_len u16][key][value]` (little endian); the CRC covers
//!   seq, key and value. Opening the spool scans every segment: a torn tail (a crash mid-write)
//!   is cut off with a WARN; damage in the middle of an older segment is moved aside to
//!   `*.corrupt` with an ERROR. Nothing is skipped without a log line and a counter.
//! - **fsync on append, batched.** [`Spool::append`] writes; [`Spool::sync`] makes a batch of
//!   appends durable with one `fdatasync`. The publisher syncs every batch before it sends any
//!   of it, so an alert the broker has seen is always also on disk until acknowledged.
//! - **A committed position, not deletion per record.** After the broker acknowledges a prefix
//!   of the log, the position of the next unacknowledged record is written to `committed`
//!   (write to a temporary file, rename). It is deliberately not fsynced: a stale position
//!   after a power cut only makes the next start send a few acknowledged alerts again, and the
//!   alert id makes that harmless; a lost alert could not be undone. Segments wholly before
//!   the committed position are deleted.
//! - **Bounded by pending bytes.** `max_bytes` bounds the bytes of records not yet
//!   acknowledged; an append that would exceed it fails with [`SpoolError::Full`] and the
//!   caller holds the record (backpressure) — the spool never evicts. Only at shutdown are
//!   the few alerts still queued in memory written past the bound, rather than lost. Disk use is at most
//!   `max_bytes` plus the acknowledged head of the oldest segment (≤ one segment,
//!   `max_bytes / 8` clamped to 64 KiB..64 MiB).
//! - **One owner.** `spool/LOCK` is held with an exclusive file lock for the life of the
//!   [`Spool`]; a second analyzer on the same `data_dir` fails at start instead of
//!   interleaving records.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const SEGMENT_EXT: &str = "seg";
const COMMITTED_FILE: &str = "committed";
const LOCK_FILE: &str = "LOCK";
/// `len u32 + crc u32 + seq u64`.
const HEADER: u64 = 16;
/// Records above this are refused on append and treated as damage on read.
pub const MAX_RECORD_BYTES: usize = 16 << 20;

/// Where a record starts: its segment (by first sequence number), byte offset, and sequence
/// number. The committed position is the position of the next record to deliver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub segment: u64,
    pub offset: u64,
    pub seq: u64,
}

/// One record read back from the spool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolRecord {
    pub seq: u64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    /// Where this record starts.
    pub at: Position,
    /// Where the record after it starts: commit this once the record is acknowledged.
    pub next: Position,
}

/// Records and bytes not yet acknowledged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    pub records: u64,
    pub bytes: u64,
}

/// Why a spool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        source: io::Error,
    },
    #[error(
        "spool {dir} is in use by another process (lock {dir}/LOCK); \
         run one analyzer per node.data_dir"
    )]
    Locked { dir: PathBuf },
    #[error(
        "spool is full: {pending} of {max} bytes wait for Kafka and a {need}-byte record does \
         not fit; it is held until the broker acknowledges older alerts"
    )]
    Full { pending: u64, max: u64, need: u64 },
    #[error(
        "a {need}-byte record can never fit a spool of {max} bytes; \
         raise analyzer.spool_max_mb"
    )]
    TooLarge { need: u64, max: u64 },
    #[error("spool segment {path} is damaged at byte {offset}: {what}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: &'static str,
    },
}

impl SpoolError {
    fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> SpoolError + 'a {
        move |source| SpoolError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}

#[derive(Debug)]
struct Segment {
    first_seq: u64,
    path: PathBuf,
    len: u64,
}

/// A read cursor: the position of the next record to read. Cheap; several may exist.
#[derive(Debug)]
pub struct Cursor {
    pos: Position,
    file: Option<(u64, File)>,
}

impl Cursor {
    pub fn position(&self) -> Position {
        self.pos
    }
}

/// The on-disk alert log. See the module docs.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    segment_bytes: u64,
    /// Sorted by `first_seq`; the last one is the active segment appends go to.
    segments: Vec<Segment>,
    active: File,
    next_seq: u64,
    committed: Position,
    unsynced: bool,
    _lock: File,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, recovering from a crash: torn tails are
    /// cut, damaged segments moved aside, and the committed position checked against the
    /// segments on disk. Returns the spool and the number of records found damaged.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<(Spool, u64), SpoolError> {
        fs::create_dir_all(dir).map_err(SpoolError::io(dir, "create directory"))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(SpoolError::io(&lock_path, "open lock file"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(SpoolError::Locked {
                    dir: dir.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(SpoolError::io(&lock_path, "lock")(e));
            }
        }

        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for entry in fs::read_dir(dir).map_err(SpoolError::io(dir, "list"))? {
            let entry = entry.map_err(SpoolError::io(dir, "list"))?;
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some(SEGMENT_EXT) {
                continue;
            }
            if let Some(first) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            {
                names.push((first, path));
            }
        }
        names.sort();

        let mut damaged = 0u64;
        let mut segments = Vec::with_capacity(names.len());
        let last_index = names.len().saturating_sub(1);
        for (i, (first_seq, path)) in names.into_iter().enumerate() {
            let scan = scan_segment(&path, first_seq)?;
            if scan.valid_len < scan.file_len {
                let cut = scan.file_len - scan.valid_len;
                if i == last_index {
                    tracing::warn!(
                        segment = %path.display(),
                        offset = scan.valid_len,
                        bytes = cut,
                        reason = scan.stop_reason,
                        "cutting a torn record off the end of the alert spool (crash during a write)"
                    );
                } else {
                    let aside = path.with_extension(format!("{SEGMENT_EXT}.corrupt"));
                    fs::copy(&path, &aside).map_err(SpoolError::io(&aside, "copy aside"))?;
                    damaged += 1;
                    tracing::error!(
                        segment = %path.display(),
                        offset = scan.valid_len,
                        bytes = cut,
                        reason = scan.stop_reason,
                        copy = %aside.display(),
                        "alert spool segment is damaged; alerts after the damage are lost (a copy is kept)"
                    );
                }
                let f = OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(SpoolError::io(&path, "open to truncate"))?;
                f.set_len(scan.valid_len)
                    .map_err(SpoolError::io(&path, "truncate"))?;
                f.sync_all().map_err(SpoolError::io(&path, "fsync"))?;
            }
            segments.push((
                Segment {
                    first_seq,
                    path,
                    len: scan.valid_len,
                },
                scan.next_seq,
            ));
        }

        let committed_path = dir.join(COMMITTED_FILE);
        let stored = read_committed(&committed_path);
        let (segments, next_seq) = match segments.last() {
            Some((_, next)) => {
                let next = *next;
                (segments.into_iter().map(|(s, _)| s).collect(), next)
            }
            None => {
                // No segments (first start, or everything was delivered and collected): new
                // sequence numbers continue after the committed one so ids never repeat.
                let first = stored.map(|p| p.seq).unwrap_or(0);
                let path = dir.join(segment_name(first));
                (
                    vec![Segment {
                        first_seq: first,
                        path,
                        len: 0,
                    }],
                    first,
                )
            }
        };
        let active_path = segments.last().expect("at least one segment").path.clone();
        let active = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&active_path)
            .map_err(SpoolError::io(&active_path, "open active segment"))?;
        sync_dir(dir)?;

        let first = &segments[0];
        let start = Position {
            segment: first.first_seq,
            offset: 0,
            seq: first.first_seq,
        };
        let committed = match stored {
            Some(p) if position_is_valid(&segments, p, next_seq) => p,
            Some(p) if p.seq <= first.first_seq || p.segment < first.first_seq => start,
            Some(p) => {
                tracing::warn!(
                    file = %committed_path.display(),
                    ?p,
                    "spool's committed position does not match its segments; \
                     resending everything in the spool (duplicates are dropped by alert id)"
                );
                start
            }
            None => start,
        };
        let mut spool = Spool {
            dir: dir.to_path_buf(),
            max_bytes,
            segment_bytes: (max_bytes / 8).clamp(64 << 10, 64 << 20),
            segments,
            active,
            next_seq,
            committed,
            unsynced: false,
            _lock: lock,
        };
        // Segments wholly before the committed position (a crash between commit and delete).
        spool.collect_segments();
        Ok((spool, damaged))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Records and bytes appended but not yet committed.
    pub fn stats(&self) -> SpoolStats {
        let mut bytes = 0;
        for s in &self.segments {
            if s.first_seq > self.committed.segment {
                bytes += s.len;
            } else if s.first_seq == self.committed.segment {
                bytes += s.len.saturating_sub(self.committed.offset);
            }
        }
        SpoolStats {
            records: self.next_seq.saturating_sub(self.committed.seq),
            bytes,
        }
    }

    /// Bytes one record with this key and value takes on disk.
    pub fn record_len(key: &[u8], value: &[u8]) -> u64 {
        HEADER + 2 + key.len() as u64 + value.len() as u64
    }

    /// Appends a record and returns its sequence number. Not durable until [`Spool::sync`].
    pub fn append(&mut self, key: &[u8], value: &[u8]) -> Result<u64, SpoolError> {
        self.append_inner(key, value, true)
    }

    /// [`append`](Self::append) past `max_bytes`: for the few alerts still queued in memory
    /// when the process stops, which would otherwise be lost. Used only at shutdown.
    pub fn append_over_bound(&mut self, key: &[u8], value: &[u8]) -> Result<u64, SpoolError> {
        self.append_inner(key, value, false)
    }

    fn append_inner(&mut self, key: &[u8], value: &[u8], bounded: bool) -> Result<u64, SpoolError> {
        let need = Self::record_len(key, value);
        if need > self.max_bytes
            || need as usize > MAX_RECORD_BYTES
            || key.len() > u16::MAX as usize
        {
            return Err(SpoolError::TooLarge {
                need,
                max: self.max_bytes.min(MAX_RECORD_BYTES as u64),
            });
        }
        let pending = self.stats().bytes;
        if bounded && pending + need > self.max_bytes {
            return Err(SpoolError::Full {
                pending,
                max: self.max_bytes,
                need,
            });
        }
        let active_len = self.segments.last().expect("active segment").len;
        if active_len > 0 && active_len + need > self.segment_bytes {
            self.roll()?;
        }

        let seq = self.next_seq;
        let mut buf = Vec::with_capacity(need as usize);
        buf.extend_from_slice(&((need - HEADER) as u32).to_le_bytes());
        buf.extend_from_slice(&[0; 4]); // CRC, filled below
        buf.extend_from_slice(&seq.to_le_bytes());
        buf.extend_from_slice(&(key.len() as u16).to_le_bytes());
        buf.extend_from_slice(key);
        buf.extend_from_slice(value);
        let crc = crc32fast::hash(&buf[8..]);
        buf[4..8].copy_from_slice(&crc.to_le_bytes());

        let seg = self.segments.last_mut().expect("active segment");
        if let Err(e) = self.active.write_all(&buf) {
            // Leave no half record behind: later appends would land after garbage.
            let _ = self.active.set_len(seg.len);
            return Err(SpoolError::io(&seg.path, "append")(e));
        }
        seg.len += need;
        self.next_seq += 1;
        self.unsynced = true;
        Ok(seq)
    }

    /// Makes every append so far durable.
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if self.unsynced {
            let path = &self.segments.last().expect("active segment").path;
            self.active
                .sync_data()
                .map_err(SpoolError::io(path, "fsync"))?;
            self.unsynced = false;
        }
        Ok(())
    }

    /// The position of the next record to deliver.
    pub fn committed(&self) -> Position {
        self.committed
    }

    /// A cursor at the committed position: what a (re)started sender reads from.
    pub fn cursor(&self) -> Cursor {
        Cursor {
            pos: self.committed,
            file: None,
        }
    }

    /// A cursor at a position read earlier (to read a record again).
    pub fn cursor_at(&self, pos: Position) -> Cursor {
        Cursor { pos, file: None }
    }

    /// Reads the record at the cursor and advances it; `None` at the end of the log.
    pub fn read(&self, cursor: &mut Cursor) -> Result<Option<SpoolRecord>, SpoolError> {
        loop {
            let idx = match self
                .segments
                .binary_search_by_key(&cursor.pos.segment, |s| s.first_seq)
            {
                Ok(i) => i,
                Err(0) => {
                    // Collected under the cursor: restart at the oldest segment.
                    let s = &self.segments[0];
                    cursor.pos = Position {
                        segment: s.first_seq,
                        offset: 0,
                        seq: s.first_seq,
                    };
                    cursor.file = None;
                    continue;
                }
                Err(_) => return Ok(None),
            };
            let seg = &self.segments[idx];
            if cursor.pos.offset >= seg.len {
                match self.segments.get(idx + 1) {
                    Some(next) => {
                        cursor.pos = Position {
                            segment: next.first_seq,
                            offset: 0,
                            seq: next.first_seq,
                        };
                        cursor.file = None;
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            if cursor.file.as_ref().map(|(s, _)| *s) != Some(seg.first_seq) {
                let f = File::open(&seg.path).map_err(SpoolError::io(&seg.path, "open"))?;
                cursor.file = Some((seg.first_seq, f));
            }
            let file = &cursor.file.as_ref().expect("opened above").1;
            let (rec, len) = read_record(file, &seg.path, cursor.pos.offset, seg.len)?;
            let at = cursor.pos;
            let next = Position {
                segment: seg.first_seq,
                offset: at.offset + len,
                seq: rec.0 + 1,
            };
            cursor.pos = next;
            return Ok(Some(SpoolRecord {
                seq: rec.0,
                key: rec.1,
                value: rec.2,
                at,
                next,
            }));
        }
    }

    /// Moves a cursor past the rest of its segment (used after damage found while reading).
    /// Returns how many records were skipped, as far as sequence numbers tell.
    pub fn skip_segment(&self, cursor: &mut Cursor) -> u64 {
        let idx = self
            .segments
            .binary_search_by_key(&cursor.pos.segment, |s| s.first_seq);
        let (next_pos, next_seq) = match idx.ok().and_then(|i| self.segments.get(i + 1)) {
            Some(n) => (
                Position {
                    segment: n.first_seq,
                    offset: 0,
                    seq: n.first_seq,
                },
                n.first_seq,
            ),
            None => {
                let s = self.segments.last().expect("active segment");
                (
                    Position {
                        segment: s.first_seq,
                        offset: s.len,
                        seq: self.next_seq,
                    },
                    self.next_seq,
                )
            }
        };
        let skipped = next_seq.saturating_sub(cursor.pos.seq);
        cursor.pos = next_pos;
        cursor.file = None;
        skipped
    }

    /// Records that everything before `pos` is acknowledged, and deletes segments wholly
    /// before it.
    pub fn commit(&mut self, pos: Position) -> Result<(), SpoolError> {
        if pos == self.committed {
            return Ok(());
        }
        self.committed = pos;
        let path = self.dir.join(COMMITTED_FILE);
        let tmp = self.dir.join(format!("{COMMITTED_FILE}.tmp"));
        fs::write(
            &tmp,
            format!("{} {} {}\n", pos.segment, pos.offset, pos.seq),
        )
        .map_err(SpoolError::io(&tmp, "write"))?;
        fs::rename(&tmp, &path).map_err(SpoolError::io(&path, "rename"))?;
        self.collect_segments();
        Ok(())
    }

    fn collect_segments(&mut self) {
        while self.segments.len() > 1 && self.segments[0].first_seq < self.committed.segment {
            let s = self.segments.remove(0);
            if let Err(e) = fs::remove_file(&s.path) {
                // Harmless: the next start sees it wholly before the committed position.
                tracing::warn!(segment = %s.path.display(), error = %e, "could not delete a delivered spool segment");
            }
        }
    }

    fn roll(&mut self) -> Result<(), SpoolError> {
        self.sync()?;
        let path = self.dir.join(segment_name(self.next_seq));
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(SpoolError::io(&path, "create segment"))?;
        sync_dir(&self.dir)?;
        self.active = file;
        self.segments.push(Segment {
            first_seq: self.next_seq,
            path,
            len: 0,
        });
        Ok(())
    }
}

fn segment_name(first_seq: u64) -> String {
    format!("{first_seq:020}.{SEGMENT_EXT}")
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(SpoolError::io(dir, "fsync directory"))
}

fn read_committed(path: &Path) -> Option<Position> {
    let text = fs::read_to_string(path).ok()?;
    let mut it = text.split_whitespace().map(|t| t.parse::<u64>());
    let p = Position {
        segment: it.next()?.ok()?,
        offset: it.next()?.ok()?,
        seq: it.next()?.ok()?,
    };
    it.next().is_none().then_some(p)
}

fn position_is_valid(segments: &[Segment], p: Position, next_seq: u64) -> bool {
    let Ok(i) = segments.binary_search_by_key(&p.segment, |s| s.first_seq) else {
        return false;
    };
    let s = &segments[i];
    if p.offset > s.len || p.seq > next_seq || p.seq < s.first_seq {
        return false;
    }
    if p.offset == s.len {
        // At the end of a segment: the next record is the next segment's first, or the end.
        return match segments.get(i + 1) {
            Some(n) => p.seq <= n.first_seq,
            None => p.seq == next_seq,
        };
    }
    // Mid-segment: the record there must carry this sequence number.
    File::open(&s.path)
        .ok()
        .and_then(|f| read_record(&f, &s.path, p.offset, s.len).ok())
        .is_some_and(|((seq, _, _), _)| seq == p.seq)
}

type Parsed = (u64, Vec<u8>, Vec<u8>);

/// Reads and checks one record at `offset`; returns it and its length on disk.
fn read_record(
    file: &File,
    path: &Path,
    offset: u64,
    seg_len: u64,
) -> Result<(Parsed, u64), SpoolError> {
    let corrupt = |what| SpoolError::Corrupt {
        path: path.to_path_buf(),
        offset,
        what,
    };
    if offset + HEADER > seg_len {
        return Err(corrupt("truncated header"));
    }
    let mut head = [0u8; HEADER as usize];
    file.read_exact_at(&mut head, offset)
        .map_err(SpoolError::io(path, "read"))?;
    let body_len = u32::from_le_bytes(head[0..4].try_into().expect("4 bytes")) as u64;
    let crc = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes"));
    let seq = u64::from_le_bytes(head[8..16].try_into().expect("8 bytes"));
    if body_len < 2 || body_len + HEADER > MAX_RECORD_BYTES as u64 {
        return Err(corrupt("impossible record length"));
    }
    if offset + HEADER + body_len > seg_len {
        return Err(corrupt("truncated record"));
    }
    let mut body = vec![0u8; body_len as usize];
    file.read_exact_at(&mut body, offset + HEADER)
        .map_err(SpoolError::io(path, "read"))?;
    let mut h = crc32fast::Hasher::new();
    h.update(&head[8..16]);
    h.update(&body);
    if h.finalize() != crc {
        return Err(corrupt("checksum mismatch"));
    }
    let key_len = u16::from_le_bytes([body[0], body[1]]) as usize;
    if 2 + key_len > body.len() {
        return Err(corrupt("key longer than record"));
    }
    let value = body.split_off(2 + key_len);
    let key = body[2..].to_vec();
    Ok(((seq, key, value), HEADER + body_len))
}

struct Scan {
    valid_len: u64,
    file_len: u64,
    next_seq: u64,
    stop_reason: &'static str,
}

/// Walks a segment and finds where its valid, gapless records end.
fn scan_segment(path: &Path, first_seq: u64) -> Result<Scan, SpoolError> {
    let file = File::open(path).map_err(SpoolError::io(path, "open"))?;
    let file_len = file.metadata().map_err(SpoolError::io(path, "stat"))?.len();
    let mut offset = 0;
    let mut expect = first_seq;
    let mut stop_reason = "";
    while offset < file_len {
        match read_record(&file, path, offset, file_len) {
            Ok(((seq, _, _), len)) if seq == expect => {
                offset += len;
                expect += 1;
            }
            Ok(_) => {
                stop_reason = "sequence gap";
                break;
            }
            Err(SpoolError::Corrupt { what, .. }) => {
                stop_reason = what;
                break;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(Scan {
        valid_len: offset,
        file_len,
        next_seq: expect,
        stop_reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path, max: u64) -> Spool {
        Spool::open(dir, max).expect("open spool").0
    }

    fn drain(spool: &Spool) -> Vec<SpoolRecord> {
        let mut c = spool.cursor();
        std::iter::from_fn(|| spool.read(&mut c).expect("read")).collect()
    }

    #[test]
    fn appends_survive_reopen_and_commit_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = open(dir.path(), 1 << 20);
            for i in 0..5u8 {
                assert_eq!(s.append(b"cam", &[i; 10]).unwrap(), i as u64);
            }
            s.sync().unwrap();
            assert_eq!(s.stats().records, 5);
            let recs = drain(&s);
            s.commit(recs[1].next).unwrap();
            assert_eq!(s.stats().records, 3);
        }
        let s = open(dir.path(), 1 << 20);
        let recs = drain(&s);
        assert_eq!(
            recs.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(recs[0].value, vec![2u8; 10]);
        assert_eq!(recs[0].key, b"cam");
        assert_eq!(s.stats().bytes, 3 * Spool::record_len(b"cam", &[0; 10]));
    }

    #[test]
    fn full_spool_refuses_and_commit_makes_room() {
        let dir = tempfile::tempdir().unwrap();
        let one = Spool::record_len(b"k", &[0; 100]);
        let mut s = open(dir.path(), one * 3);
        for _ in 0..3 {
            s.append(b"k", &[0; 100]).unwrap();
        }
        assert!(matches!(
            s.append(b"k", &[0; 100]),
            Err(SpoolError::Full { .. })
        ));
        assert!(matches!(
            s.append(b"k", &[0; 1000]),
            Err(SpoolError::TooLarge { .. })
        ));
        // Shutdown may overflow the bound rather than lose what is queued in memory.
        s.append_over_bound(b"k", &[0; 100]).unwrap();
        assert_eq!(s.stats().records, 4);
        let recs = drain(&s);
        s.commit(recs[1].next).unwrap();
        s.append(b"k", &[0; 100]).unwrap();
    }

    #[test]
    fn torn_tail_is_cut_and_appends_continue() {
        let dir = tempfile::tempdir().unwrap();
        let seg_path;
        {
            let mut s = open(dir.path(), 1 << 20);
            s.append(b"a", b"one").unwrap();
            s.append(b"a", b"two").unwrap();
            s.sync().unwrap();
            seg_path = s.segments[0].path.clone();
        }
        let len = fs::metadata(&seg_path).unwrap().len();
        let f = OpenOptions::new().write(true).open(&seg_path).unwrap();
        f.set_len(len - 2).unwrap();
        drop(f);
        let mut s = open(dir.path(), 1 << 20);
        assert_eq!(s.append(b"a", b"three").unwrap(), 1);
        let vals: Vec<_> = drain(&s).into_iter().map(|r| r.value).collect();
        assert_eq!(vals, vec![b"one".to_vec(), b"three".to_vec()]);
    }

    #[test]
    fn segments_roll_and_are_collected() {
        let dir = tempfile::tempdir().unwrap();
        // 512 KiB spool: 64 KiB segments (the minimum); 10 KB records: 6 per segment.
        let mut s = open(dir.path(), 512 << 10);
        for _ in 0..20 {
            s.append(b"k", &[7; 10_000]).unwrap();
        }
        s.sync().unwrap();
        assert!(s.segments.len() >= 3);
        let recs = drain(&s);
        assert_eq!(recs.len(), 20);
        s.commit(recs[15].next).unwrap();
        assert!(s.segments.len() <= 2);
        drop(s);
        let s = open(dir.path(), 512 << 10);
        assert_eq!(
            drain(&s).iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![16, 17, 18, 19]
        );
    }

    #[test]
    fn a_second_owner_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _s = open(dir.path(), 1 << 20);
        assert!(matches!(
            Spool::open(dir.path(), 1 << 20),
            Err(SpoolError::Locked { .. })
        ));
    }

    #[test]
    fn sequence_continues_after_everything_was_collected() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = open(dir.path(), 1 << 20);
            s.append(b"k", b"v").unwrap();
            let r = drain(&s).remove(0);
            s.commit(r.next).unwrap();
        }
        let mut s = open(dir.path(), 1 << 20);
        assert_eq!(s.stats().records, 0);
        assert_eq!(s.append(b"k", b"w").unwrap(), 1);
    }
}
