//! The management tree: URIs, nodes, properties, ACLs and DM command semantics.
