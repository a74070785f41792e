//! Export before purge: an organization's finished deliveries that a purge is about to remove,
//! written per day (of their creation, UTC) as gzip-compressed JSON lines under
//! `<export dir>/<org id>/deliveries-<YYYY-MM-DD>.jsonl.gz`. A file is complete (written to a
//! temporary name, flushed to disk, then renamed) before anything it holds is purged.

use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::domain::OrgId;
use crate::domain::time::Millis;
use crate::store::{PURGE_BATCH, Store};

/// One day's file being written.
struct DayFile {
    day: String,
    temporary: PathBuf,
    encoder: GzEncoder<std::fs::File>,
}

impl DayFile {
    fn finish(self, directory: &Path) -> anyhow::Result<PathBuf> {
        let file = self.encoder.finish()?;
        file.sync_all()?;
        let target = free_name(directory, &self.day);
        std::fs::rename(&self.temporary, &target)?;
        Ok(target)
    }
}

/// `deliveries-<day>.jsonl.gz`, or `deliveries-<day>.<n>.jsonl.gz` when a purge already
/// exported part of that day (deliveries that were still pending then).
fn free_name(directory: &Path, day: &str) -> PathBuf {
    let first = directory.join(format!("deliveries-{day}.jsonl.gz"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| directory.join(format!("deliveries-{day}.{n}.jsonl.gz")))
        .find(|path| !path.exists())
        .unwrap_or(first)
}

fn day_of(millis: Millis) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// Writes every delivery a purge at `cutoff` will remove; the files written.
pub async fn export_org(
    store: &Store,
    org: &OrgId,
    cutoff: Millis,
    root: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let directory = root.join(org.as_str());
    let mut written = Vec::new();
    let mut current: Option<DayFile> = None;
    let mut after = String::new();
    loop {
        let batch = store
            .deliveries_to_purge(org, cutoff, &after, PURGE_BATCH)
            .await?;
        for exported in &batch {
            let day = day_of(exported.delivery.created_at);
            if current.as_ref().is_some_and(|file| file.day != day)
                && let Some(file) = current.take()
            {
                written.push(file.finish(&directory)?);
            }
            if current.is_none() {
                std::fs::create_dir_all(&directory)?;
                let temporary = directory.join(format!(".deliveries-{day}.jsonl.gz.partial"));
                let file = std::fs::File::create(&temporary)?;
                current = Some(DayFile {
                    day: day.clone(),
                    temporary,
                    encoder: GzEncoder::new(file, Compression::default()),
                });
            }
            if let Some(file) = current.as_mut() {
                serde_json::to_writer(&mut file.encoder, exported)?;
                file.encoder.write_all(b"\n")?;
            }
        }
        match batch.last() {
            Some(last) if batch.len() == PURGE_BATCH => {
                after = last.delivery.id.as_str().to_owned()
            }
            _ => break,
        }
    }
    if let Some(file) = current {
        written.push(file.finish(&directory)?);
    }
    Ok(written)
}
