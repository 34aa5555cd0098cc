//! The software inventory as JSON (feature `serde`), written with serde-json-core into a
//! caller buffer, without a heap:
//!
//! ```text
//! {"delivered":[{"node","pkg_id","name","state","status"}...],
//!  "deployed":[{"node","id","name","version","state","status"}...]}
//! ```
//!
//! `state` and `status` are the numbers of the SCOMO State and Status leaves (digest 3);
//! absent text leaves are `null`.

use serde::ser::{Serialize, SerializeSeq, SerializeStruct, Serializer};

use crate::mo::{DeliveredEntry, DeliveredLeaf, DeployedEntry, DeployedLeaf, Scomo};

/// A view of a SCOMO object's inventory that serializes to the JSON above.
pub struct Inventory<'a, const DL: usize, const DV: usize, const DP: usize>(
    pub &'a Scomo<DL, DV, DP>,
);

/// A JSON array of what a fresh iterator from the function yields.
struct Seq<F>(F);

impl<F, I, T> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator<Item = T>,
    T: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for item in (self.0)() {
            seq.serialize_element(&item)?;
        }
        seq.end()
    }
}

struct Delivered<'a>(&'a DeliveredEntry);

impl Serialize for Delivered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut st = s.serialize_struct("Delivered", 5)?;
        st.serialize_field("node", e.name())?;
        st.serialize_field("pkg_id", &e.pkg_id())?;
        st.serialize_field("name", &e.get(DeliveredLeaf::Name))?;
        st.serialize_field("state", &e.state().value())?;
        st.serialize_field("status", &e.status().value())?;
        st.end()
    }
}

struct Deployed<'a>(&'a DeployedEntry);

impl Serialize for Deployed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut st = s.serialize_struct("Deployed", 6)?;
        st.serialize_field("node", e.name())?;
        st.serialize_field("id", &e.id())?;
        st.serialize_field("name", &e.get(DeployedLeaf::Name))?;
        st.serialize_field("version", &e.get(DeployedLeaf::Version))?;
        st.serialize_field("state", &e.state().value())?;
        st.serialize_field("status", &e.status().value())?;
        st.end()
    }
}

impl<const DL: usize, const DV: usize, const DP: usize> Serialize for Inventory<'_, DL, DV, DP> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Inventory", 2)?;
        st.serialize_field(
            "delivered",
            &Seq(|| self.0.delivered_packages().map(Delivered)),
        )?;
        st.serialize_field(
            "deployed",
            &Seq(|| self.0.deployed_components().map(Deployed)),
        )?;
        st.end()
    }
}

impl<const DL: usize, const DV: usize, const DP: usize> Inventory<'_, DL, DV, DP> {
    /// Writes the JSON into `buf` and returns its length; `None` when `buf` is too small.
    pub fn write_json(&self, buf: &mut [u8]) -> Option<usize> {
        serde_json_core::to_slice(self, buf).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mo::{DeployedState, MoVersion};

    #[test]
    fn the_inventory_json_has_the_documented_shape() {
        let mut scomo: Scomo<1, 2, 2> = Scomo::new(MoVersion::V1_0);
        let d = scomo.add_delivered("P1").unwrap();
        d.set(DeliveredLeaf::PkgId, "pkg-1").unwrap();
        let c = scomo.add_deployed("C1").unwrap();
        c.set(DeployedLeaf::Id, "com.example.app").unwrap();
        c.set(DeployedLeaf::Version, "2.0").unwrap();
        c.set_state(DeployedState::Active);
        let mut buf = [0u8; 512];
        let n = Inventory(&scomo).write_json(&mut buf).unwrap();
        assert_eq!(
            core::str::from_utf8(&buf[..n]).unwrap(),
            r#"{"delivered":[{"node":"P1","pkg_id":"pkg-1","name":null,"state":10,"status":10}],"deployed":[{"node":"C1","id":"com.example.app","name":null,"version":"2.0","state":20,"status":10}]}"#
        );
        assert_eq!(
            Inventory(&scomo).write_json(&mut buf[..20]),
            None,
            "too small: None, no panic"
        );
    }
}
