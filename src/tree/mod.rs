//! The management tree: URIs, nodes, properties, ACLs and DM command semantics.
//!
//! [`Tree`] mounts the typed management objects of [`crate::mo`] at their roots and
//! answers the DM commands (Get, Add, Replace, Delete, Exec) with the status codes of
//! OMA DM 1.2 (digest 7.5, 7.10). What depends only on the shape of an object comes from
//! its node table ([`NodeSpec`]); the values come from the object's typed fields.
//!
//! Fixed memory: the objects' capacities are const generics of [`Tree`], ACL values share
//! one byte budget ([`AclStore`]), and the undo log of an Atomic lives in a buffer the
//! caller lends ([`UndoLog`]). Nothing here allocates or panics on outside input.

pub(crate) mod acl;
pub(crate) mod commands;
pub(crate) mod exec;
pub(crate) mod format;
pub(crate) mod schema;
pub(crate) mod undo;
pub(crate) mod uri;

pub use acl::{Acl, AclStore, Command, ROOT_DEFAULT_ACL};
pub use commands::{Got, Item, ROOT_CAP, Tree, Written};
pub use exec::{ExecHandler, ExecRequest};
pub use format::Format;
pub use schema::{AccessTypes, DYNAMIC, NodeSpec, Occurrence, Value};
pub use undo::UndoLog;
pub use uri::{ListKind, Property, Query, Uri, UriLimits};
