//! The local store's history: the last [`KEEP_HISTORY`] snapshots, kept as hard links in
//! `<path>.history/` (a new snapshot replaces the file by rename, so a link keeps the old
//! bytes at no cost), read by `cairn state history` and `rollback`.

use super::*;

impl LocalStore {
    pub(super) fn history_dir(&self) -> PathBuf {
        self.sibling(".history")
    }

    fn history_file(&self, serial: u64) -> PathBuf {
        self.history_dir().join(format!("{serial:020}.json"))
    }

    /// Keep the snapshot just written as the history copy of `serial`: a hard link (a new
    /// snapshot replaces the file by rename, so the link keeps this one's bytes), or a copy
    /// where links cannot be made; then only the newest [`KEEP_HISTORY`] stay. History is
    /// a convenience: failing to keep it is said, never a failed run.
    pub(super) fn keep_history(&self, serial: u64) {
        let kept = (|| -> std::io::Result<()> {
            let dir = self.history_dir();
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)?;
            let tmp = dir.join(format!(".tmp-{}", std::process::id()));
            let _ = fs::remove_file(&tmp);
            if fs::hard_link(&self.path, &tmp).is_err() {
                fs::copy(&self.path, &tmp)?;
            }
            fs::rename(&tmp, self.history_file(serial))?;
            let mut serials = self.history_serials()?;
            serials.sort_unstable();
            for old in serials
                .iter()
                .take(serials.len().saturating_sub(KEEP_HISTORY))
            {
                fs::remove_file(self.history_file(*old))?;
            }
            Ok(())
        })();
        if let Err(e) = kept {
            self.notice(format!(
                "{}: could not keep serial {serial} in the history ({}): {e}",
                self.location(),
                self.history_dir().display()
            ));
        }
    }

    fn history_serials(&self) -> std::io::Result<Vec<u64>> {
        let entries = match fs::read_dir(self.history_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut serials = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(serial) = name
                .strip_suffix(".json")
                .filter(|n| n.len() == 20)
                .and_then(|n| n.parse().ok())
            {
                serials.push(serial);
            }
        }
        Ok(serials)
    }

    /// The kept states, newest first.
    pub(super) fn kept_history(&self) -> Result<Vec<HistoryEntry>, StateError> {
        let mut serials = self
            .history_serials()
            .map_err(|e| self.io("listing the history", e))?;
        serials.sort_unstable_by(|a, b| b.cmp(a));
        let mut out = Vec::new();
        for serial in serials {
            if let Some(state) = self.kept_state(serial)? {
                out.push(HistoryEntry::of(&state));
            }
        }
        Ok(out)
    }

    /// The kept state of `serial`.
    pub(super) fn kept_state(&self, serial: u64) -> Result<Option<State>, StateError> {
        let path = self.history_file(serial);
        match fs::read(&path) {
            Ok(bytes) => snapshot::parse(&bytes)
                .map(Some)
                .map_err(|e| e.at(format!("local file {}", path.display()))),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("reading the history", e)),
        }
    }
}
