//! Access control lists: the grammar `Get=srv1+srv2&Replace=*`, the check of one command
//! for one server, and the store that keeps an ACL only on the nodes where one is set.
//!
//! Rules (DM 1.2 TND 8.3.7.1): a node without an ACL value inherits the whole ACL of its
//! nearest ancestor that has one (never per command); the root always has a value, by
//! default `Add=*&Get=*`; a command listed without a server is malformed.

use minicbor::{Decoder, Encoder, decode, encode};

use crate::codes::StatusCode;
use crate::tree::uri::{split_last, within};

/// A DM command that an ACL grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Command {
    /// Add a node below this one.
    Add,
    /// Delete the node and its subtree.
    Delete,
    /// Exec the node.
    Exec,
    /// Get the value, the child list or a property.
    Get,
    /// Replace the value or a property.
    Replace,
}

impl Command {
    /// Every command with its name in an ACL, the one table of names.
    pub const NAMES: [(Command, &'static str); 5] = [
        (Command::Add, "Add"),
        (Command::Delete, "Delete"),
        (Command::Exec, "Exec"),
        (Command::Get, "Get"),
        (Command::Replace, "Replace"),
    ];

    /// The command's name as written in an ACL.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }

    /// The command named `name` in an ACL.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(c, _)| *c)
    }
}

/// The ACL the root has when no other value was set.
pub const ROOT_DEFAULT_ACL: &str = "Add=*&Get=*";

/// A well-formed ACL value, borrowing its text. The empty ACL means "inherit".
///
/// ```
/// use scomo::tree::{Acl, Command};
///
/// let acl = Acl::parse("Get=srv1+srv2&Replace=*")?;
/// assert!(acl.allows(Command::Get, "srv2"));
/// assert!(!acl.allows(Command::Get, "srv3"));
/// assert!(acl.allows(Command::Replace, "srv3"));
/// assert!(!acl.allows(Command::Exec, "srv1"));
/// # Ok::<(), scomo::codes::StatusCode>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Acl<'a>(&'a str);

impl<'a> Acl<'a> {
    /// Checks the grammar: `Cmd=id[+id...]` entries joined by `&`, `Cmd` one of Add,
    /// Delete, Exec, Get, Replace, each id non-empty (`*` is every server). 400 otherwise.
    pub fn parse(text: &'a str) -> Result<Self, StatusCode> {
        if !text.is_empty() {
            for entry in text.split('&') {
                let (cmd, ids) = entry.split_once('=').ok_or(StatusCode::BadRequest)?;
                Command::from_name(cmd).ok_or(StatusCode::BadRequest)?;
                if ids.split('+').any(|id| id.is_empty() || id.contains('=')) {
                    return Err(StatusCode::BadRequest);
                }
            }
        }
        Ok(Acl(text))
    }

    /// The ACL text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether the ACL has no value (the node inherits).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The server ids listed for `cmd` (`*` included as written).
    pub fn servers(&self, cmd: Command) -> impl Iterator<Item = &'a str> + use<'a> {
        let name = cmd.name();
        self.0
            .split('&')
            .filter_map(move |e| e.split_once('=').filter(|(c, _)| *c == name))
            .flat_map(|(_, ids)| ids.split('+'))
    }

    /// Whether `server` may run `cmd` under this ACL.
    pub fn allows(&self, cmd: Command, server: &str) -> bool {
        self.servers(cmd).any(|id| id == "*" || id == server)
    }
}

/// Where ACL values live: only on the nodes that have one, each record a path (without
/// `./`, the root being the empty path) and its ACL text, packed in `N` bytes.
///
/// A node's path or ACL longer than 255 bytes cannot be stored (420).
#[derive(Debug, Clone)]
pub struct AclStore<const N: usize> {
    /// Records `[path len][acl len][path][acl]`, always well formed and UTF-8.
    bytes: heapless::Vec<u8, N, u16>,
}

impl<const N: usize> Default for AclStore<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> AclStore<N> {
    /// An empty store: the root has the default ACL, every other node inherits it.
    pub const fn new() -> Self {
        Self {
            bytes: heapless::Vec::new(),
        }
    }

    /// Every (path, ACL) record, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        Records(&self.bytes).map(|(_, p, a)| (p, a))
    }

    /// The ACL value set on `path`, if any (no inheritance).
    pub fn get(&self, path: &str) -> Option<&str> {
        self.iter().find(|(p, _)| *p == path).map(|(_, a)| a)
    }

    /// The ACL that governs `path`: its own, or its nearest ancestor's, or the root
    /// default.
    pub fn effective(&self, path: &str) -> Acl<'_> {
        let mut at = path;
        loop {
            if let Some(acl) = self.get(at) {
                return Acl(acl);
            }
            match split_last(at) {
                Some((parent, _)) => at = parent,
                None => return Acl(ROOT_DEFAULT_ACL),
            }
        }
    }

    /// Whether `set(path, acl)` would find room.
    pub fn has_room(&self, path: &str, acl: &str) -> bool {
        if acl.is_empty() {
            return true;
        }
        let freed = self.get(path).map_or(0, |a| 2 + path.len() + a.len());
        path.len() <= 255
            && acl.len() <= 255
            && self.bytes.len() - freed + 2 + path.len() + acl.len() <= N
    }

    /// Sets the ACL of `path` (the empty ACL removes the record). 420 when it does not
    /// fit; the store is then unchanged. The ACL is not checked here: see [`Acl::parse`].
    pub fn set(&mut self, path: &str, acl: &str) -> Result<(), StatusCode> {
        if !self.has_room(path, acl) {
            return Err(StatusCode::DeviceFull);
        }
        self.remove_where(|p| p == path);
        if acl.is_empty() {
            return Ok(());
        }
        // Records stay sorted by path, so that equal stores are equal bytes.
        let at = Records(&self.bytes)
            .take_while(|(_, p, _)| *p < path)
            .map(|(len, _, _)| len)
            .sum::<usize>();
        let old = self.bytes.len();
        let need = 2 + path.len() + acl.len();
        self.bytes
            .resize(old + need, 0)
            .map_err(|_| StatusCode::DeviceFull)?;
        self.bytes.copy_within(at..old, at + need);
        let record = self
            .bytes
            .get_mut(at..at + need)
            .ok_or(StatusCode::DeviceFull)?;
        let (head, rest) = record.split_at_mut(2);
        // Both lengths were checked to fit in a byte and the record to fit in N.
        head.copy_from_slice(&[path.len() as u8, acl.len() as u8]);
        let (p, a) = rest.split_at_mut(path.len());
        p.copy_from_slice(path.as_bytes());
        a.copy_from_slice(acl.as_bytes());
        Ok(())
    }

    /// Removes the records of `path` and of every node below it.
    pub fn remove_subtree(&mut self, path: &str) {
        self.remove_where(|p| within(p, path));
    }

    fn remove_where(&mut self, mut doomed: impl FnMut(&str) -> bool) {
        let mut read = 0;
        let mut write = 0;
        while let Some((len, path, _)) = Records(self.bytes.get(read..).unwrap_or(&[])).next() {
            let keep = !doomed(path);
            if keep && read != write {
                self.bytes.copy_within(read..read + len, write);
            }
            if keep {
                write += len;
            }
            read += len;
        }
        self.bytes.truncate(write);
    }

    /// Writes the store as a CBOR array of `[path, acl]` pairs.
    pub fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(self.iter().count() as u64)?;
        for (path, acl) in self.iter() {
            e.array(2)?.str(path)?.str(acl)?;
        }
        Ok(())
    }

    /// Reads what [`AclStore::encode`] wrote. Malformed ACLs, oversized or duplicate
    /// records are errors; nothing panics on corrupt input.
    pub fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        let mut store = Self::new();
        let n = d
            .array()?
            .ok_or(decode::Error::message("indefinite array"))?;
        for _ in 0..n {
            if d.array()? != Some(2) {
                return Err(decode::Error::message("ACL record is not a pair"));
            }
            let path = d.str()?;
            let acl = d.str()?;
            Acl::parse(acl).map_err(|_| decode::Error::message("malformed ACL"))?;
            if acl.is_empty() || store.get(path).is_some() {
                return Err(decode::Error::message("empty or duplicate ACL record"));
            }
            store
                .set(path, acl)
                .map_err(|_| decode::Error::message("ACL store full"))?;
        }
        Ok(store)
    }
}

/// Iterates the records of a packed store: (record length, path, acl).
struct Records<'a>(&'a [u8]);

impl<'a> Iterator for Records<'a> {
    type Item = (usize, &'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let (&plen, rest) = self.0.split_first()?;
        let (&alen, rest) = rest.split_first()?;
        let (path, rest) = rest.split_at_checked(usize::from(plen))?;
        let (acl, rest) = rest.split_at_checked(usize::from(alen))?;
        self.0 = rest;
        Some((
            2 + path.len() + acl.len(),
            core::str::from_utf8(path).ok()?,
            core::str::from_utf8(acl).ok()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_acls_are_400() {
        for bad in [
            "Get", "Get=", "Get=a+", "Get=a&", "Copy=*", "Get=a=b", "&Get=*",
        ] {
            assert_eq!(Acl::parse(bad), Err(StatusCode::BadRequest), "{bad:?}");
        }
        assert!(Acl::parse("").unwrap().is_empty());
    }

    #[test]
    fn inheritance_takes_the_nearest_whole_acl() {
        let mut s = AclStore::<128>::new();
        assert_eq!(s.effective("A/B").as_str(), ROOT_DEFAULT_ACL);
        s.set("A", "Get=x").unwrap();
        s.set("A/B/C", "Exec=y").unwrap();
        assert_eq!(s.effective("A/B").as_str(), "Get=x");
        assert_eq!(s.effective("A/B/C/D").as_str(), "Exec=y");
        // No per-command inheritance: C's ACL has no Get, so x may not Get C.
        assert!(!s.effective("A/B/C").allows(Command::Get, "x"));
        assert_eq!(s.effective("AB").as_str(), ROOT_DEFAULT_ACL);
    }

    #[test]
    fn full_store_is_420_and_unchanged() {
        let mut s = AclStore::<16>::new();
        s.set("A", "Get=*").unwrap();
        let before = s.bytes.clone();
        assert_eq!(s.set("B", "Get=*&Add=*"), Err(StatusCode::DeviceFull));
        assert_eq!(s.bytes, before);
        // Replacing in place frees the old record first.
        s.set("A", "Add=*").unwrap();
        assert_eq!(s.get("A"), Some("Add=*"));
    }

    #[test]
    fn subtree_removal_keeps_siblings() {
        let mut s = AclStore::<128>::new();
        for p in ["A", "A/B", "A/B/C", "A/BC", "D"] {
            s.set(p, "Get=*").unwrap();
        }
        s.remove_subtree("A/B");
        let left: heapless::Vec<&str, 8> = s.iter().map(|(p, _)| p).collect();
        assert_eq!(left.as_slice(), ["A", "A/BC", "D"]);
        // Sorted whatever the order of setting: equal stores are equal bytes.
        let mut t = AclStore::<128>::new();
        for p in ["D", "A/BC", "A"] {
            t.set(p, "Get=*").unwrap();
        }
        assert_eq!(t.bytes, s.bytes);
    }

    #[test]
    fn cbor_round_trip_and_corrupt_input() {
        let mut s = AclStore::<128>::new();
        s.set("", "Add=*&Get=*&Replace=srv").unwrap();
        s.set("SCOMO", "Exec=srv").unwrap();
        let mut buf = [0u8; 128];
        let mut e = Encoder::new(&mut buf[..]);
        s.encode(&mut e).unwrap();
        let back = AclStore::<128>::decode(&mut Decoder::new(&buf)).unwrap();
        assert_eq!(back.bytes, s.bytes);
        for cut in 0..40 {
            let _ = AclStore::<128>::decode(&mut Decoder::new(&buf[..cut]));
        }
        let bad = [0x81, 0x82, 0x61, b'A', 0x63, b'G', b'e', b't'];
        assert!(AclStore::<128>::decode(&mut Decoder::new(&bad)).is_err());
    }
}
