//! Writing outputs so that a failure leaves nothing half-written: everything
//! is built in a staging directory beside the target, then renamed into place
//! (rename is atomic within one file system); on failure the staging
//! directory is removed and replaced directories are restored.
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{PkiError, Result};

/// Mode for files holding private keys.
pub const SECRET_FILE_MODE: u32 = 0o600;
/// Mode for public files (certificates, truststores).
pub const PUBLIC_FILE_MODE: u32 = 0o644;

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> PkiError + '_ {
    move |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Write a new file with `mode` (created with that mode, never wider).
pub fn write_file(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(write_err(path))?;
    file.write_all(data).map_err(write_err(path))?;
    file.sync_all().map_err(write_err(path))?;
    // The umask may have narrowed the mode further; set it exactly.
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(write_err(path))?;
    Ok(())
}

/// A staging directory inside `parent`, removed on drop unless committed.
pub struct Staging {
    root: PathBuf,
    parent: PathBuf,
    committed: bool,
}

impl Staging {
    /// Create `parent` if needed and a fresh hidden staging directory in it.
    pub fn new(parent: &Path) -> Result<Self> {
        fs::create_dir_all(parent).map_err(write_err(parent))?;
        let mut random = [0u8; 8];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
            .map_err(|_| PkiError::Generate("no system randomness".into()))?;
        let name = hex::encode(random);
        let root = parent.join(format!(".zgate-staging-{name}"));
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&root)
            .map_err(write_err(&root))?;
        Ok(Self {
            root,
            parent: parent.to_path_buf(),
            committed: false,
        })
    }

    /// A subdirectory of the staging area (created, mode `mode`).
    pub fn dir(&self, name: &str, mode: u32) -> Result<PathBuf> {
        let path = self.root.join(name);
        fs::DirBuilder::new()
            .mode(mode)
            .create(&path)
            .map_err(write_err(&path))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(write_err(&path))?;
        Ok(path)
    }

    /// Move each staged top-level entry `name` to `parent/name`. Existing
    /// targets are refused unless `replace`, in which case they are moved
    /// aside first and restored if any later step fails.
    pub fn commit(mut self, names: &[&str], replace: bool) -> Result<()> {
        for name in names {
            let target = self.parent.join(name);
            if target.exists() && !replace {
                return Err(PkiError::AlreadyExists { path: target });
            }
        }
        let mut moved_aside: Vec<(PathBuf, PathBuf)> = Vec::new();
        let mut installed: Vec<PathBuf> = Vec::new();
        let outcome = (|| -> Result<()> {
            for name in names {
                let target = self.parent.join(name);
                if target.exists() {
                    let aside = self.root.join(format!("{name}.previous"));
                    fs::rename(&target, &aside).map_err(write_err(&target))?;
                    moved_aside.push((aside, target.clone()));
                }
                fs::rename(self.root.join(name), &target).map_err(write_err(&target))?;
                installed.push(target);
            }
            Ok(())
        })();
        if let Err(err) = outcome {
            for path in installed.iter().rev() {
                let _ = if path.is_dir() {
                    fs::remove_dir_all(path)
                } else {
                    fs::remove_file(path)
                };
            }
            for (aside, target) in moved_aside.iter().rev() {
                let _ = fs::rename(aside, target);
            }
            return Err(err);
        }
        self.committed = true;
        let _ = fs::remove_dir_all(&self.root);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}
