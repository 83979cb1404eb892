//! Precompiled components, cached on disk and in memory, keyed by the
//! component's content hash and the engine's compatibility hash, so Cranelift
//! runs once per component per engine configuration, never on the poll path.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
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
            #[allow(unsafe_code)]
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
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join(format!("{key}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, &path)?;
        // SAFETY: `bytes` was produced just now by this engine's `precompile_component`.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &bytes)? };
        Ok((component, CacheOutcome::Compiled))
    }
}
