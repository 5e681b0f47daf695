//! The lease rules every backend applies (docs/durability.md, "One driver at a time"), written once: a
//! commit is fenced on the holder's lease and the revision it follows; a lease is taken over only once it
//! ran out (which bumps the epoch); an instance is deleted only once it has ended and nobody holds it.

use super::{Commit, StoreError};

/// Who drives an instance, as a backend reads it: its lease's owner (none once let go), when that lease
/// runs out (ms since the Unix epoch), and the epoch (the fencing token).
#[derive(Debug, Clone, Copy)]
pub struct Tenure<'a> {
    /// The owner id of the lease, if anyone holds it.
    pub owner: Option<&'a str>,
    /// When the lease runs out unless renewed.
    pub until_ms: u64,
    /// The epoch: one more at every takeover.
    pub epoch: u64,
}

impl Tenure<'_> {
    /// Refuse `commit` to instance `id`, whose last revision is `revision`, unless its lease still holds
    /// the instance and it follows that revision.
    ///
    /// Errors: [`StoreError::LeaseLost`] (another owner, or a later epoch); [`StoreError::Conflict`].
    pub fn fence(&self, id: &str, revision: u64, commit: &Commit<'_>) -> Result<(), StoreError> {
        if self.owner != Some(commit.lease.owner.as_str()) || self.epoch != commit.lease.epoch {
            return Err(StoreError::LeaseLost(id.into()));
        }
        if revision != commit.expected_revision {
            return Err(StoreError::Conflict { instance: id.into(), expected: commit.expected_revision });
        }
        Ok(())
    }

    /// The epoch `owner` holds instance `id` under once it takes its lease at `now_ms`: the same when it
    /// holds it already (a renewal), the next when nobody holds it or the holder's lease ran out.
    ///
    /// Errors: [`StoreError::Held`] while another owner's lease runs.
    pub fn take(&self, id: &str, owner: &str, now_ms: u64) -> Result<u64, StoreError> {
        match self.owner {
            Some(holder) if holder == owner => Ok(self.epoch),
            Some(holder) if self.until_ms >= now_ms => {
                Err(StoreError::Held { instance: id.into(), owner: holder.into(), until_ms: self.until_ms })
            }
            _ => Ok(self.epoch + 1),
        }
    }

    /// Refuse deleting instance `id`, whose status is `status` (`ended` when final), unless it has ended
    /// and nobody holds it at `now_ms`.
    ///
    /// Errors: [`StoreError::NotEnded`]; [`StoreError::Held`].
    pub fn deletable(&self, id: &str, status: &str, ended: bool, now_ms: u64) -> Result<(), StoreError> {
        if !ended {
            return Err(StoreError::NotEnded { instance: id.into(), status: status.into() });
        }
        match self.owner {
            Some(owner) if self.until_ms >= now_ms => {
                Err(StoreError::Held { instance: id.into(), owner: owner.into(), until_ms: self.until_ms })
            }
            _ => Ok(()),
        }
    }
}
