//! The description of a management object's nodes: one static table per object, each row
//! a node's name, parent, format, occurrence, access types, MIME type and value limit.
//! The tree answers everything that depends only on the shape of an object (child lists of
//! permanent nodes, `Format`, `Type`, 405 for a command the node does not take, 413 for a
//! value longer than the node takes) from these tables.

use crate::codes::StatusCode;
use crate::tree::acl::Command;
use crate::tree::format::Format;
use crate::tree::undo::UndoLog;

/// How many instances of a node may exist under one parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Occurrence {
    /// Exactly one (permanent, created with its parent).
    One,
    /// Zero or one.
    ZeroOrOne,
    /// Any number: a dynamic node whose name is chosen by whoever creates it.
    ZeroOrMore,
}

/// The DDF access types of a node: which commands its object accepts on it at all (the
/// ACL then says which servers may send them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AccessTypes(u8);

impl AccessTypes {
    /// No command.
    pub const NONE: AccessTypes = AccessTypes(0);
    /// Get.
    pub const GET: AccessTypes = AccessTypes(1);
    /// Add.
    pub const ADD: AccessTypes = AccessTypes(2);
    /// Replace.
    pub const REPLACE: AccessTypes = AccessTypes(4);
    /// Delete.
    pub const DELETE: AccessTypes = AccessTypes(8);
    /// Exec.
    pub const EXEC: AccessTypes = AccessTypes(16);
    /// Get, Add, Replace: a server-written leaf.
    pub const GAR: AccessTypes = AccessTypes(1 | 2 | 4);
    /// Get and Replace: a device-created leaf the server may change.
    pub const GR: AccessTypes = AccessTypes(1 | 4);
    /// Add and Replace without Get: a write-only value (secrets, streamed data).
    pub const AR: AccessTypes = AccessTypes(2 | 4);
    /// Get, Add, Replace, Delete: a server-created dynamic node.
    pub const GARD: AccessTypes = AccessTypes(1 | 2 | 4 | 8);
    /// Get and Exec: an executable node.
    pub const GE: AccessTypes = AccessTypes(1 | 16);

    /// Whether `cmd` is one of these access types.
    pub const fn allows(self, cmd: Command) -> bool {
        let bit = match cmd {
            Command::Get => Self::GET.0,
            Command::Add => Self::ADD.0,
            Command::Replace => Self::REPLACE.0,
            Command::Delete => Self::DELETE.0,
            Command::Exec => Self::EXEC.0,
        };
        self.0 & bit != 0
    }
}

/// The name a table gives a dynamic node (`<X>`): its instances are named at creation.
pub const DYNAMIC: &str = "<X>";

/// One node of a management object's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NodeSpec {
    /// The node's name, or [`DYNAMIC`].
    pub name: &'static str,
    /// Row of the parent node in the same table; the object's root (row 0) has itself.
    pub parent: u8,
    /// The format of its value (`node` for interior nodes).
    pub format: Format,
    /// How many may exist.
    pub occurrence: Occurrence,
    /// Which commands the node takes.
    pub access: AccessTypes,
    /// The `Type` property: MIME type of a leaf, empty for interior nodes (the MO root's
    /// Type is its MO identifier, given by the object).
    pub mime: &'static str,
    /// Longest value (bytes) a writable leaf or a dynamic node's name takes: longer is
    /// 413.
    pub max_len: u16,
}

impl NodeSpec {
    /// An interior node.
    pub const fn interior(
        name: &'static str,
        parent: u8,
        occurrence: Occurrence,
        access: AccessTypes,
    ) -> Self {
        NodeSpec {
            name,
            parent,
            format: Format::Node,
            occurrence,
            access,
            mime: "",
            max_len: 0,
        }
    }

    /// A leaf with MIME type `text/plain`.
    pub const fn leaf(
        name: &'static str,
        parent: u8,
        format: Format,
        occurrence: Occurrence,
        access: AccessTypes,
        max_len: u16,
    ) -> Self {
        NodeSpec {
            name,
            parent,
            format,
            occurrence,
            access,
            mime: "text/plain",
            max_len,
        }
    }

    /// Whether the node is interior.
    pub const fn is_interior(&self) -> bool {
        matches!(self.format, Format::Node)
    }

    /// Whether the node is dynamic (named when created).
    pub fn is_dynamic(&self) -> bool {
        self.name == DYNAMIC
    }
}

/// A leaf value, as read from an object or handed to it after the tree has checked it
/// against the node's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Value<'a> {
    /// `chr` (and other text formats).
    Text(&'a str),
    /// `bin` bytes kept in the tree.
    Bytes(&'a [u8]),
    /// `int`.
    Int(i64),
    /// `bool`.
    Bool(bool),
    /// `null`: an executable node, no value.
    Null,
    /// A `bin` value kept outside the tree (a delivered package's `Data`): only its size.
    External(u32),
}

/// Most dynamic levels a node may sit below (`DMAcc/<X>/AppAddr/<X>/Port/<X>`).
pub(crate) const MAX_LEVELS: usize = 3;

/// A node of an object resolved for one command: its table row and, for each dynamic
/// ancestor (itself included) from the top, the index of that instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Node {
    pub spec: u8,
    pub inst: [u8; MAX_LEVELS],
    pub levels: u8,
}

impl Node {
    pub const ROOT: Node = Node {
        spec: 0,
        inst: [0; MAX_LEVELS],
        levels: 0,
    };

    /// The child row `spec`; `index` is its instance if it is dynamic.
    pub fn child(&self, spec: u8, index: Option<u8>) -> Option<Node> {
        let mut n = Node { spec, ..*self };
        if let Some(i) = index {
            *n.inst.get_mut(usize::from(self.levels))? = i;
            n.levels += 1;
        }
        Some(n)
    }

    /// The instance index at dynamic level `level`.
    pub fn at(&self, level: usize) -> usize {
        usize::from(self.inst.get(level).copied().unwrap_or(u8::MAX))
    }
}

/// What a management object implements so that the tree can route commands to it. The
/// tree has already checked the URI, the node's access types, the ACL, the value's format
/// and its length against the table before it calls a mutating method.
pub(crate) trait Object {
    /// The object's node table; row 0 is its root.
    fn schema(&self) -> &'static [NodeSpec];

    /// The `Type` of the object's root: its MO identifier.
    fn mo_type(&self) -> &'static str;

    /// Whether this configuration of the object has row `spec` (e.g. a node that only a
    /// later MO version defines).
    fn offers(&self, _spec: usize) -> bool {
        true
    }

    /// The name of instance `i` of dynamic row `spec` below `parent`; `None` past the last.
    fn instance(&self, spec: usize, parent: &Node, i: usize) -> Option<&str>;

    /// The value of a leaf; `None` when this optional leaf is absent.
    fn read(&self, node: &Node) -> Option<Value<'_>>;

    /// Sets a leaf. All or nothing: on error the object is unchanged.
    fn write(&mut self, _node: &Node, _value: Value<'_>) -> Result<(), StatusCode> {
        Err(StatusCode::NotAllowed)
    }

    /// Creates instance `name` of dynamic row `spec` below `parent`. All or nothing.
    fn create(&mut self, _spec: usize, _parent: &Node, _name: &str) -> Result<(), StatusCode> {
        Err(StatusCode::NotAllowed)
    }

    /// Removes a dynamic node and everything below it.
    fn remove(&mut self, _node: &Node) -> Result<(), StatusCode> {
        Err(StatusCode::NotAllowed)
    }

    /// Records in `log`, under `tag`, what `restore` needs to bring back the unit of state
    /// that holds the top-level dynamic instance `name` of row `spec` (which may not exist
    /// yet), unless the log already holds it. 507 when it does not fit.
    fn snapshot(
        &self,
        spec: usize,
        name: &str,
        log: &mut UndoLog<'_>,
        tag: u8,
    ) -> Result<(), StatusCode>;

    /// Brings back the state a `snapshot` record describes.
    fn restore(&mut self, _record: &[u8]) -> Result<(), StatusCode> {
        Err(StatusCode::AtomicRollbackFailed)
    }
}
