//! The first start on an empty home: the directory and a default
//! configuration before the configuration is read ([`prepare_home`]); the
//! certificates, administrator and server user while the app is built
//! ([`crate::App::from_config`]), reported in [`FirstStart`].

use std::path::{Path, PathBuf};

use crate::AppError;

/// What a start created, for the operator to be told once.
#[derive(Debug, Default)]
pub struct FirstStart {
    /// The directory of the local CA and server certificate, when they
    /// were created.
    pub certificates: Option<PathBuf>,
    /// The SPECIAL administrator, when it was created.
    pub admin: Option<InitialAdmin>,
}

/// The administrator a first start created, with its initial password.
pub struct InitialAdmin {
    /// Its user id.
    pub user: String,
    /// The 0600 file that holds the password too.
    pub password_file: PathBuf,
    /// The initial password phrase: shown to the operator once, never
    /// logged.
    pub password: String,
}

impl std::fmt::Debug for InitialAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InitialAdmin")
            .field("user", &self.user)
            .field("password_file", &self.password_file)
            .field("password", &"********")
            .finish()
    }
}

/// Creates `home` (mode 0700) when it does not exist and, when
/// `default_config` is true and there is no `zgate.yaml` in it, writes the
/// default one (mode 0600). Returns the configuration file it created.
pub fn prepare_home(home: &Path, default_config: bool) -> Result<Option<PathBuf>, AppError> {
    create_home(home).map_err(|source| AppError::Home {
        path: home.to_path_buf(),
        source,
    })?;
    if !default_config {
        return Ok(None);
    }
    let path = home.join(zgate_config::CONFIG_FILE);
    if path.exists() {
        return Ok(None);
    }
    write_private(&path, zgate_config::default_file_contents().as_bytes()).map_err(|source| {
        AppError::WriteConfig {
            path: path.clone(),
            source,
        }
    })?;
    Ok(Some(path))
}

fn create_home(home: &Path) -> std::io::Result<()> {
    if home.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(home)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}
