//! An [`Installer`] for Linux-class devices: runs a command for each operation, or, with no
//! command, installs into a folder under the state directory.
//!
//! **Package convention.** A package may start with a manifest line
//! `scomo-component id=<ID> version=<V> name=<NAME> [sha256=<hex of the rest>]`; the
//! installer reports that component. Without it the component's ID is the package's
//! `PkgID`. With `sha256=`, the bytes after the manifest line must hash to it, or the
//! package is refused before anything is installed (SCOMO result 1407).
//!
//! **The command** (`--installer CMD`) does the work instead of the default (which copies
//! the package to `<state>/installed/<ID>/` and keeps the component's state there). It runs
//! as `sh -c CMD` with these variables:
//! `SCOMO_OP` (`install`, `install-inactive`, `activate`, `deactivate`, `remove`),
//! `SCOMO_COMPONENT_ID`, `SCOMO_VERSION`, `SCOMO_NAME`, `SCOMO_PKG_ID` and `SCOMO_PACKAGE`
//! (the path of the stored package, for installs). Exit status 0 is success, 75 means
//! "pending, poll again", 76 means "reboot required"; anything else fails the operation.
//! Lines `id=<ID> version=<V> name=<NAME>` on its standard output report the components an
//! install produced (replacing the manifest's).
//!
//! Every operation may be repeated after a power cut or a kill (the core's recovery calls it
//! again with the same arguments): the default installer is idempotent, and a command must be.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use scomo::platform::{
    ComponentInfo, ComponentSink, InstallRequest, Installer, InstallerErrorKind, Outcome,
    PackageReader, Verdict,
};
use sha2::{Digest, Sha256};

/// The manifest a package may start with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Component ID.
    pub id: Option<String>,
    /// Component version.
    pub version: Option<String>,
    /// Component name.
    pub name: Option<String>,
    /// SHA-256 of the bytes after the manifest line, lowercase hex.
    pub sha256: Option<String>,
    /// Length of the manifest line including its newline (0 without a manifest).
    pub len: usize,
}

impl Manifest {
    /// Parses the manifest line at the start of `bytes`, if there is one.
    pub fn parse(bytes: &[u8]) -> Self {
        let Some(rest) = bytes.strip_prefix(b"scomo-component ") else {
            return Self::default();
        };
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return Self::default();
        };
        let line = String::from_utf8_lossy(rest.get(..end).unwrap_or_default()).into_owned();
        let mut m = Self {
            len: end + 1 + "scomo-component ".len(),
            ..Self::default()
        };
        for field in line.split_whitespace() {
            match field.split_once('=') {
                Some(("id", v)) => m.id = Some(v.into()),
                Some(("version", v)) => m.version = Some(v.into()),
                Some(("name", v)) => m.name = Some(v.into()),
                Some(("sha256", v)) => m.sha256 = Some(v.to_ascii_lowercase()),
                _ => {}
            }
        }
        m
    }
}

fn read_all<R: PackageReader>(package: &mut R) -> Result<Vec<u8>, InstallerErrorKind> {
    let size = usize::try_from(package.size()).map_err(|_| InstallerErrorKind::OutOfMemory)?;
    let mut bytes = vec![0u8; size];
    package
        .seek(embedded_io::SeekFrom::Start(0))
        .map_err(|_| InstallerErrorKind::Other)?;
    package
        .read_exact(&mut bytes)
        .map_err(|_| InstallerErrorKind::Other)?;
    Ok(bytes)
}

/// Installs by running a command, or into `<state>/installed/<ID>/` without one.
#[derive(Debug)]
pub struct CommandInstaller {
    command: Option<String>,
    root: PathBuf,
}

impl CommandInstaller {
    /// An installer that runs `command` (or installs into `state_dir/installed`).
    pub fn new(state_dir: &Path, command: Option<String>) -> Self {
        Self {
            command,
            root: state_dir.join("installed"),
        }
    }

    fn run(
        &self,
        op: &str,
        vars: &[(&str, &str)],
    ) -> Result<(Outcome, String), InstallerErrorKind> {
        let Some(cmd) = &self.command else {
            return Ok((Outcome::Done, String::new()));
        };
        let out = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("SCOMO_OP", op)
            .envs(vars.iter().copied())
            .output()
            .map_err(|_| InstallerErrorKind::Failed)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        match out.status.code() {
            Some(0) => Ok((Outcome::Done, stdout)),
            Some(75) => Ok((Outcome::Pending, stdout)),
            Some(76) => Ok((Outcome::RebootRequired, stdout)),
            _ => Err(InstallerErrorKind::Failed),
        }
    }

    fn component_dir(&self, id: &str) -> Result<PathBuf, InstallerErrorKind> {
        if id.is_empty() || id.contains('/') || id.starts_with('.') {
            return Err(InstallerErrorKind::InvalidPackage);
        }
        Ok(self.root.join(id))
    }

    fn set_state(&self, id: &str, state: &str) -> Result<(), InstallerErrorKind> {
        let dir = self.component_dir(id)?;
        if !dir.exists() {
            return Err(InstallerErrorKind::NotFound);
        }
        crate::store::replace_file(&dir.join("state"), state.as_bytes())
            .map_err(|_| InstallerErrorKind::Failed)
    }
}

impl Installer for CommandInstaller {
    type Error = InstallerErrorKind;

    fn install<R: PackageReader>(
        &mut self,
        package: &mut R,
        inactive: bool,
        request: &InstallRequest<'_>,
        sink: &mut dyn ComponentSink,
    ) -> Result<Outcome, InstallerErrorKind> {
        let bytes = read_all(package)?;
        let manifest = Manifest::parse(&bytes);
        let id = manifest
            .id
            .clone()
            .unwrap_or_else(|| request.pkg_id.to_owned());
        let version = manifest.version.clone().unwrap_or_default();
        let name = manifest
            .name
            .clone()
            .or(request.name.map(str::to_owned))
            .unwrap_or_default();
        let dir = self.component_dir(&id)?;
        fs::create_dir_all(&dir).map_err(|_| InstallerErrorKind::OutOfMemory)?;
        let stored = dir.join("package");
        crate::store::replace_file(&stored, &bytes).map_err(|_| InstallerErrorKind::OutOfMemory)?;
        let op = if inactive {
            "install-inactive"
        } else {
            "install"
        };
        let path = stored.to_string_lossy().into_owned();
        let (outcome, stdout) = self.run(
            op,
            &[
                ("SCOMO_COMPONENT_ID", &id),
                ("SCOMO_VERSION", &version),
                ("SCOMO_NAME", &name),
                ("SCOMO_PKG_ID", request.pkg_id),
                ("SCOMO_PACKAGE", &path),
            ],
        )?;
        crate::store::replace_file(
            &dir.join("state"),
            if inactive { b"inactive" } else { b"active" },
        )
        .map_err(|_| InstallerErrorKind::Failed)?;
        let reported: Vec<Manifest> = stdout
            .lines()
            .filter(|l| l.starts_with("id="))
            .map(|l| Manifest::parse(format!("scomo-component {l}\n").as_bytes()))
            .collect();
        if reported.is_empty() {
            sink.component(&ComponentInfo {
                id: &id,
                version: Some(&version).filter(|v| !v.is_empty()).map(String::as_str),
                name: Some(&name).filter(|n| !n.is_empty()).map(String::as_str),
                description: None,
            });
        }
        for m in &reported {
            sink.component(&ComponentInfo {
                id: m.id.as_deref().unwrap_or(&id),
                version: m.version.as_deref(),
                name: m.name.as_deref(),
                description: None,
            });
        }
        Ok(outcome)
    }

    fn activate(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        if self.command.is_some() {
            return Ok(self.run("activate", &[("SCOMO_COMPONENT_ID", id)])?.0);
        }
        self.set_state(id, "active")?;
        Ok(Outcome::Done)
    }

    fn deactivate(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        if self.command.is_some() {
            return Ok(self.run("deactivate", &[("SCOMO_COMPONENT_ID", id)])?.0);
        }
        self.set_state(id, "inactive")?;
        Ok(Outcome::Done)
    }

    fn remove(&mut self, id: &str) -> Result<Outcome, InstallerErrorKind> {
        if self.command.is_some() {
            return Ok(self.run("remove", &[("SCOMO_COMPONENT_ID", id)])?.0);
        }
        let dir = self.component_dir(id)?;
        let outcome = Outcome::Done;
        match fs::remove_dir_all(&dir) {
            Ok(()) => Ok(outcome),
            // Already gone: a repeat after a power cut.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(outcome),
            Err(_) => Err(InstallerErrorKind::Failed),
        }
    }

    fn verify<R: PackageReader>(
        &mut self,
        package: &mut R,
        _request: &InstallRequest<'_>,
    ) -> Verdict {
        let Ok(bytes) = read_all(package) else {
            return Verdict::Invalid;
        };
        let manifest = Manifest::parse(&bytes);
        match &manifest.sha256 {
            None => Verdict::Valid,
            Some(want) => {
                let body = bytes.get(manifest.len..).unwrap_or_default();
                let got: String = Sha256::digest(body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                if &got == want {
                    Verdict::Valid
                } else {
                    Verdict::Invalid
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_line_is_parsed_and_a_package_without_one_has_none() {
        let m = Manifest::parse(b"scomo-component id=com.x version=2 name=App sha256=AB\nbody");
        assert_eq!(m.id.as_deref(), Some("com.x"));
        assert_eq!(m.version.as_deref(), Some("2"));
        assert_eq!(m.name.as_deref(), Some("App"));
        assert_eq!(m.sha256.as_deref(), Some("ab"));
        assert_eq!(
            m.len,
            b"scomo-component id=com.x version=2 name=App sha256=AB\n".len()
        );
        assert_eq!(Manifest::parse(b"plain bytes"), Manifest::default());
        assert_eq!(
            Manifest::parse(b"scomo-component id=x"),
            Manifest::default(),
            "no newline: no manifest"
        );
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;
    use crate::store::FileComponentStore;
    use embedded_io::Write as _;
    use scomo::platform::{ComponentStore, PackageKey, PackageWriter};

    struct Names(Vec<String>);
    impl ComponentSink for Names {
        fn component(&mut self, c: &ComponentInfo<'_>) {
            self.0.push(format!("{} {:?}", c.id, c.version));
        }
    }

    #[test]
    fn install_reads_the_manifest_of_a_stored_package() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = FileComponentStore::open(dir.path(), 2, 1 << 20).unwrap();
        let pkg = b"scomo-component id=com.x version=1.0\nhello";
        let mut w = store.begin(PackageKey(0), pkg.len() as u64).unwrap();
        w.write_all(pkg).unwrap();
        w.commit().unwrap();
        let mut r = store.open(PackageKey(0)).unwrap();
        let mut inst = CommandInstaller::new(dir.path(), None);
        let mut names = Names(Vec::new());
        inst.install(&mut r, false, &InstallRequest::new("pkg-1"), &mut names)
            .unwrap();
        assert_eq!(names.0, vec!["com.x Some(\"1.0\")".to_owned()]);
    }
}
