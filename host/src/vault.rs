//! The vault: secrets and cached tokens encrypted at rest with an AEAD
//! (XChaCha20-Poly1305), the tenant and name bound as associated data so a
//! sealed value cannot be moved to another tenant or name unnoticed.
//!
//! The key never sits beside the data: it comes from a key file (created with
//! 0600 permissions) or from an environment variable, as base64 of 32 bytes.

use crate::credentials::{CredentialError, Secret, SecretSource, TokenPersistence};
use crate::store::Store;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Format version of sealed values (first byte).
const VERSION: u8 = 1;
/// Nonce length of XChaCha20-Poly1305.
const NONCE_LEN: usize = 24;

/// Errors of the vault. None contains a secret value.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The key could not be read or is malformed.
    #[error("vault key {source_name}: {detail}")]
    Key {
        /// Where the key was looked for.
        source_name: String,
        /// What is wrong.
        detail: String,
    },
    /// Decryption failed: the key is not the one the value was sealed with,
    /// or the stored row was altered.
    #[error(
        "secret {name:?} of tenant {tenant:?} cannot be decrypted: wrong vault key, or the stored value was tampered with"
    )]
    Unseal {
        /// Tenant.
        tenant: String,
        /// Secret or token name.
        name: String,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// The vault's symmetric key.
#[derive(Clone)]
pub struct VaultKey([u8; 32]);

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey(***)")
    }
}

impl VaultKey {
    /// A new random key.
    pub fn generate() -> VaultKey {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        VaultKey(key)
    }

    /// Parses base64 of 32 bytes.
    pub fn from_base64(text: &str, source_name: &str) -> Result<VaultKey, VaultError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| VaultError::Key {
                source_name: source_name.into(),
                detail: "not base64 (expected 32 random bytes, base64-encoded, as `ml-connector init` writes)".into(),
            })?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| VaultError::Key {
            source_name: source_name.into(),
            detail: format!("{} bytes; a vault key has 32", b.len()),
        })?;
        Ok(VaultKey(key))
    }

    /// The key as base64 (for writing the key file).
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// Reads a key file.
    pub fn from_file(path: &Path) -> Result<VaultKey, VaultError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| VaultError::Key {
            source_name: name.clone(),
            detail: format!("cannot read it ({e}); create one with `ml-connector init`"),
        })?;
        VaultKey::from_base64(&text, &name)
    }

    /// Reads the key from environment variable `var`.
    pub fn from_env(var: &str) -> Result<VaultKey, VaultError> {
        let text = std::env::var(var).map_err(|_| VaultError::Key {
            source_name: format!("${var}"),
            detail: "the environment variable is not set".into(),
        })?;
        VaultKey::from_base64(&text, &format!("${var}"))
    }

    /// Writes a new random key to `path` with 0600 permissions; refuses to
    /// overwrite an existing file (that would orphan every sealed secret).
    pub fn create_file(path: &Path) -> Result<VaultKey, VaultError> {
        let key = VaultKey::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| VaultError::Key {
            source_name: path.display().to_string(),
            detail: format!("cannot create it: {e}"),
        })?;
        std::io::Write::write_all(&mut file, format!("{}\n", key.to_base64()).as_bytes()).map_err(
            |e| VaultError::Key {
                source_name: path.display().to_string(),
                detail: format!("cannot write it: {e}"),
            },
        )?;
        Ok(key)
    }
}

/// Secrets and tokens, sealed in the store.
#[derive(Debug)]
pub struct Vault {
    key: VaultKey,
    store: Arc<dyn Store>,
}

fn aad(kind: &str, tenant: &str, name: &str) -> Vec<u8> {
    format!("mlc-{kind}\u{0}{tenant}\u{0}{name}").into_bytes()
}

impl Vault {
    /// A vault over `store` with `key`.
    pub fn new(key: VaultKey, store: Arc<dyn Store>) -> Vault {
        Vault { key, store }
    }

    fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let cipher = XChaCha20Poly1305::new((&self.key.0).into());
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        // Encryption with a valid key and nonce cannot fail for in-memory sizes.
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn unseal(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            return None;
        }
        let cipher = XChaCha20Poly1305::new((&self.key.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(&sealed[1..1 + NONCE_LEN]),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad,
                },
            )
            .ok()
    }

    /// Stores secret `name` of `tenant`.
    pub fn set(&self, tenant: &str, name: &str, value: &Secret) -> Result<(), VaultError> {
        let sealed = self.seal(&aad("secret", tenant, name), value.expose().as_bytes());
        self.store.secret_put(tenant, name, &sealed)?;
        Ok(())
    }

    /// Reads secret `name` of `tenant`.
    pub fn get(&self, tenant: &str, name: &str) -> Result<Option<Secret>, VaultError> {
        let Some(sealed) = self.store.secret_get(tenant, name)? else {
            return Ok(None);
        };
        let plain = self
            .unseal(&aad("secret", tenant, name), &sealed)
            .ok_or_else(|| VaultError::Unseal {
                tenant: tenant.into(),
                name: name.into(),
            })?;
        String::from_utf8(plain)
            .map(|s| Some(Secret::new(s)))
            .map_err(|_| VaultError::Unseal {
                tenant: tenant.into(),
                name: name.into(),
            })
    }

    /// Names of a tenant's secrets (never their values).
    pub fn names(&self, tenant: &str) -> Result<Vec<String>, VaultError> {
        Ok(self.store.secret_names(tenant)?)
    }
}

impl SecretSource for Vault {
    fn get(&self, tenant: &str, name: &str) -> Result<Secret, CredentialError> {
        match Vault::get(self, tenant, name) {
            Ok(Some(secret)) => Ok(secret),
            Ok(None) => Err(CredentialError::MissingSecret {
                tenant: tenant.into(),
                name: name.into(),
            }),
            Err(e) => Err(CredentialError::Config(e.to_string())),
        }
    }
}

impl TokenPersistence for Vault {
    fn load(&self, tenant: &str, connection: &str) -> Option<(Secret, u64)> {
        let (sealed, expires_ms) = self.store.token_get(tenant, connection).ok()??;
        let plain = self.unseal(&aad("token", tenant, connection), &sealed)?;
        Some((Secret::new(String::from_utf8(plain).ok()?), expires_ms))
    }

    fn save(&self, tenant: &str, connection: &str, token: &Secret, expires_ms: u64) {
        let sealed = self.seal(&aad("token", tenant, connection), token.expose().as_bytes());
        if let Err(e) = self
            .store
            .token_put(tenant, connection, &sealed, expires_ms)
        {
            tracing::warn!(%tenant, %connection, error = %e, "cannot persist the token; it stays cached in memory");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    fn vault(dir: &tempfile::TempDir, key: VaultKey) -> Vault {
        let store = Arc::new(SqliteStore::open(&dir.path().join("v.db")).unwrap());
        Vault::new(key, store)
    }

    #[test]
    fn secret_round_trips_and_is_not_stored_in_plain_text() {
        let dir = tempfile::tempdir().unwrap();
        let v = vault(&dir, VaultKey::generate());
        v.set("acme", "ps/password", &Secret::new("hunter2-plain"))
            .unwrap();
        assert_eq!(
            v.get("acme", "ps/password").unwrap().unwrap().expose(),
            "hunter2-plain"
        );
        drop(v);
        let raw = std::fs::read(dir.path().join("v.db")).unwrap();
        let wal = std::fs::read(dir.path().join("v.db-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(13).any(|w| w == b"hunter2-plain"));
        }
    }

    #[test]
    fn wrong_key_is_a_clear_error_naming_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        vault(&dir, VaultKey::generate())
            .set("acme", "ps/password", &Secret::new("x"))
            .unwrap();
        let err = vault(&dir, VaultKey::generate())
            .get("acme", "ps/password")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ps/password") && err.contains("wrong vault key"),
            "{err}"
        );
    }

    #[test]
    fn a_sealed_value_moved_to_another_tenant_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let key = VaultKey::generate();
        let store = Arc::new(SqliteStore::open(&dir.path().join("v.db")).unwrap());
        let v = Vault::new(key, store.clone());
        v.set("acme", "pw", &Secret::new("acme-secret")).unwrap();
        let sealed = store.secret_get("acme", "pw").unwrap().unwrap();
        store.secret_put("globex", "pw", &sealed).unwrap();
        assert!(matches!(
            v.get("globex", "pw"),
            Err(VaultError::Unseal { .. })
        ));
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        store.secret_put("acme", "pw", &tampered).unwrap();
        assert!(matches!(
            v.get("acme", "pw"),
            Err(VaultError::Unseal { .. })
        ));
    }

    #[test]
    fn key_file_is_created_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlc.key");
        let key = VaultKey::create_file(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert_eq!(VaultKey::from_file(&path).unwrap().0, key.0);
        assert!(VaultKey::create_file(&path).is_err());
    }

    #[test]
    fn malformed_keys_are_refused_with_what_is_expected() {
        assert!(
            VaultKey::from_base64("not base64!", "k")
                .unwrap_err()
                .to_string()
                .contains("base64")
        );
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
        assert!(
            VaultKey::from_base64(&short, "k")
                .unwrap_err()
                .to_string()
                .contains("16 bytes")
        );
    }
}
