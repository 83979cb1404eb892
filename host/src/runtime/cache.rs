//! Precompiled components, cached on disk and in memory, keyed by the
//! component's content hash and the engine's compatibility hash, so Cranelift
//! runs once per component per engine configuration, never on the poll path.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from when it was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Already loaded in this process.
    Memory,
    /// Deserialized from the on-disk cache.
    Disk,
    /// Compiled now (and written to disk when a cache directory is set).
    Compiled,
}

/// The component cache of one engine.
#[derive(Debug)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
    engine_key: String,
    loaded: Mutex<HashMap<String, Component>>,
}

impl ComponentCache {
    /// A cache for `engine`, persisted under `dir` when given.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ComponentCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled form of `wasm`, from memory, disk, or Cranelift, in that order.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let key = format!("{}-{}", hex::encode(Sha256::digest(wasm)), self.engine_key);
        if let Some(component) = self.loaded.lock().ok().and_then(|m| m.get(&key).cloned()) {
            return Ok((component, CacheOutcome::Memory));
        }
        let (component, outcome) = match &self.dir {
            Some(dir) => self.load_via_disk(engine, wasm, dir, &key)?,
            None => (Component::new(engine, wasm)?, CacheOutcome::Compiled),
        };
        if let Ok(mut loaded) = self.loaded.lock() {
            loaded.insert(key, component.clone());
        }
        Ok((component, outcome))
    }

    fn load_via_disk(
        &self,
        engine: &Engine,
        wasm: &[u8],
        dir: &Path,
        key: &str,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let path = dir.join(format!("{key}.cwasm"));
        if path.exists() {
            // SAFETY: the file name carries the SHA-256 of the source component and
            // the engine's compatibility hash, and only this cache writes files
            // into this directory (atomically, via rename), from
            // `Engine::precompile_component` output. wasmtime also checks the
            // header of the artifact against the engine before use.
            #[allow(
                unsafe_code,
                reason = "deserializing a component this cache wrote for this engine (see SAFETY above)"
            )]
            let loaded = unsafe { Component::deserialize_file(engine, &path) };
            match loaded {
                Ok(component) => return Ok((component, CacheOutcome::Disk)),
                // A stale or damaged artifact: fall through and rebuild it.
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cached component unusable; recompiling")
                }
            }
        }
        let bytes = engine.precompile_component(wasm)?;
        // The cache only saves work: a failed write costs a recompile next
        // time, never this load.
        if let Err(e) = persist(dir, &path, &bytes) {
            tracing::warn!(path = %path.display(), error = %e, "could not cache the compiled component")
        }
        // SAFETY: `bytes` was produced just now by this engine's `precompile_component`.
        #[allow(
            unsafe_code,
            reason = "deserializing bytes this engine just compiled (see SAFETY above)"
        )]
        let component = unsafe { Component::deserialize(engine, &bytes)? };
        Ok((component, CacheOutcome::Compiled))
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file of its own, then
/// renamed over `path`. The temporary name is unique per process *and* per
/// write, because threads of one process (e.g. tenants loading at once, or
/// tests of one binary) compile the same component concurrently; a name shared
/// between them let one thread rename away the file another was about to rename.
fn persist(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    static WRITES: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("component");
    let tmp = dir.join(format!(
        "{name}.{}.{}.tmp",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest valid component: the binary component preamble.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn concurrent_first_loads_of_one_component_all_succeed_and_leave_one_artifact() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().expect("temp dir");
        for _round in 0..5 {
            for entry in std::fs::read_dir(dir.path()).expect("dir") {
                std::fs::remove_file(entry.expect("entry").path()).expect("clear");
            }
            std::thread::scope(|scope| {
                let loads: Vec<_> = (0..8)
                    .map(|_| {
                        scope.spawn(|| {
                            // A cache per thread: each starts with an empty memory map,
                            // as separate tenants' runtimes do.
                            let cache =
                                ComponentCache::new(&engine, Some(dir.path().to_path_buf()));
                            cache
                                .load(&engine, EMPTY_COMPONENT)
                                .map(|(_, outcome)| outcome)
                        })
                    })
                    .collect();
                for load in loads {
                    load.join().expect("no panic").expect("the load succeeds");
                }
            });
            let files: Vec<_> = std::fs::read_dir(dir.path())
                .expect("dir")
                .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
                .collect();
            assert_eq!(
                files.len(),
                1,
                "one artifact, no temporaries left: {files:?}"
            );
            assert!(files[0].ends_with(".cwasm"), "{files:?}");
        }
    }

    #[test]
    fn concurrent_writes_of_one_artifact_all_land() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("k.cwasm");
        for _round in 0..20 {
            std::thread::scope(|scope| {
                let writes: Vec<_> = (0..8)
                    .map(|_| scope.spawn(|| persist(dir.path(), &path, b"artifact")))
                    .collect();
                for write in writes {
                    write.join().expect("no panic").expect("the write lands");
                }
            });
        }
        assert_eq!(std::fs::read(&path).expect("artifact"), b"artifact");
    }

    #[test]
    fn an_unwritable_cache_directory_still_loads_the_component() {
        let engine = Engine::default();
        let file = tempfile::NamedTempFile::new().expect("temp file");
        // A regular file where the directory should be: every write fails.
        let cache = ComponentCache::new(&engine, Some(file.path().join("cache")));
        let (_, outcome) = cache.load(&engine, EMPTY_COMPONENT).expect("loads anyway");
        assert_eq!(outcome, CacheOutcome::Compiled);
    }
}
