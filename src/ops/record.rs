//! The executor's durable records (each one frame of [`crate::persist::frame`]):
//!
//! | Record | Holds | Written |
//! |---|---|---|
//! | state (`records`) | the tree's server-visible state (SCOMO inventory, DM account, ACLs), the job counter, the jobs, the outbox, the package map | at each job transition and by `save` |
//! | acks (`records + 1`) | ids of reports the server acknowledged since the state record last held them | on each acknowledgement |
//! | transfer (`records + 2`) | the download of the job at the head of the queue: object URL, notify URL, descriptor size, validator | when a descriptor is read and when an object starts from byte 0 |
//!
//! One state record keeps the tree and the jobs in step: a transition and its effect on the
//! tree are one atomic write.

use minicbor::{Decode, Decoder, Encode, Encoder, decode, encode};

use crate::mo::NodeName;
use crate::ops::job::{Job, decode_digest};
use crate::ops::outbox::Report;
use crate::platform::PackageKey;
use crate::tree::Tree;

/// Schema version of the state record.
pub(crate) const STATE_VERSION: u8 = 1;
/// Schema version of the acknowledgement record.
pub(crate) const ACK_VERSION: u8 = 1;

/// A package the component store holds for `Inventory/Delivered/<name>/Data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Package {
    pub name: NodeName,
    pub key: PackageKey,
    pub len: u64,
    /// SHA-256 of the bytes, computed as they were stored; checked again before install.
    pub digest: [u8; 32],
}

impl Package {
    fn encode<W: encode::Write>(&self, e: &mut Encoder<W>) -> Result<(), encode::Error<W::Error>> {
        e.array(4)?
            .str(&self.name)?
            .u16(self.key.0)?
            .u64(self.len)?
            .bytes(&self.digest)?;
        Ok(())
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Self, decode::Error> {
        if d.array()? != Some(4) {
            return Err(decode::Error::message("package is not a 4-array"));
        }
        let name =
            crate::mo::node_name(d.str()?).map_err(|_| decode::Error::message("bad node name"))?;
        let key = PackageKey(d.u16()?);
        let len = d.u64()?;
        let digest = decode_digest(d)?.ok_or(decode::Error::message("missing digest"))?;
        Ok(Self {
            name,
            key,
            len,
            digest,
        })
    }
}

/// The state record, for encoding.
pub(crate) struct StateOut<'a, const DL: usize, const DV: usize, const DP: usize, const ACL: usize>
{
    pub tree: &'a Tree<DL, DV, DP, ACL>,
    pub next_id: u32,
    pub jobs: &'a [Job],
    pub outbox: &'a [Report],
    pub packages: &'a [Package],
}

impl<const DL: usize, const DV: usize, const DP: usize, const ACL: usize> Encode<()>
    for StateOut<'_, DL, DV, DP, ACL>
{
    fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
        _: &mut (),
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(5)?;
        self.tree.encode_state(e)?;
        e.u32(self.next_id)?;
        e.array(self.jobs.len() as u64)?;
        for j in self.jobs {
            j.encode(e)?;
        }
        e.array(self.outbox.len() as u64)?;
        for r in self.outbox {
            r.encode(e)?;
        }
        e.array(self.packages.len() as u64)?;
        for p in self.packages {
            p.encode(e)?;
        }
        Ok(())
    }
}

/// The parts of the state record that [`decode_state`] does not put in place: the tree
/// part, still raw CBOR for [`Tree::decode_state`], and the job counter.
pub(crate) struct StateHead<'b> {
    pub tree: &'b [u8],
    pub next_id: u32,
}

/// Appends the entries of a CBOR array to `into` (which the caller cleared); more than
/// `N` is an error.
fn list<T, const N: usize>(
    d: &mut Decoder<'_>,
    into: &mut heapless::Vec<T, N>,
    one: fn(&mut Decoder<'_>) -> Result<T, decode::Error>,
) -> Result<(), decode::Error> {
    let n = d
        .array()?
        .ok_or(decode::Error::message("indefinite array"))?;
    for _ in 0..n {
        into.push(one(d)?)
            .map_err(|_| decode::Error::message("more entries than capacity"))?;
    }
    Ok(())
}

/// Decodes the state record's `body` (see [`crate::persist::frame::body`]) with the jobs,
/// the outbox and the package map written straight into the executor's own vectors (they
/// are a few KiB: decoding them into a value and moving it would cost that much stack
/// again, which a microcontroller booting the client does not have).
///
/// The vectors are cleared first; on error they hold a prefix of the record and the caller
/// must not use them.
pub(crate) fn decode_state<'b, const J: usize, const O: usize, const P: usize>(
    body: &'b [u8],
    jobs: &mut heapless::Vec<Job, J>,
    outbox: &mut heapless::Vec<Report, O>,
    packages: &mut heapless::Vec<Package, P>,
) -> Result<StateHead<'b>, decode::Error> {
    jobs.clear();
    outbox.clear();
    packages.clear();
    let d = &mut Decoder::new(body);
    if d.array()? != Some(5) {
        return Err(decode::Error::message("state is not a 5-array"));
    }
    let start = d.position();
    d.skip()?;
    let tree = d
        .input()
        .get(start..d.position())
        .ok_or(decode::Error::message("tree span"))?;
    let next_id = d.u32()?;
    list(d, jobs, Job::decode)?;
    list(d, outbox, Report::decode)?;
    list(d, packages, Package::decode)?;
    if d.position() != body.len() {
        return Err(decode::Error::message("trailing bytes after the state"));
    }
    Ok(StateHead { tree, next_id })
}

/// The acknowledgement record: report ids.
pub(crate) struct Acks<const O: usize>(pub heapless::Vec<u32, O>);

impl<const O: usize> Encode<()> for Acks<O> {
    fn encode<W: encode::Write>(
        &self,
        e: &mut Encoder<W>,
        _: &mut (),
    ) -> Result<(), encode::Error<W::Error>> {
        e.array(self.0.len() as u64)?;
        for id in &self.0 {
            e.u32(*id)?;
        }
        Ok(())
    }
}

impl<'b, const O: usize> Decode<'b, ()> for Acks<O> {
    fn decode(d: &mut Decoder<'b>, _: &mut ()) -> Result<Self, decode::Error> {
        let mut ids = heapless::Vec::new();
        list(d, &mut ids, |d| d.u32())?;
        Ok(Acks(ids))
    }
}
