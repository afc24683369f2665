//! A host CPU's FIFO store buffer and the iterator over its entries.

use super::*;

/// Fixed-capacity FIFO ring, allocated once at construction.
#[derive(Debug)]
pub(super) struct StoreBuffer {
    slots: Box<[SbEntry]>,
    head: usize,
    pub(super) len: usize,
}

impl Clone for StoreBuffer {
    fn clone(&self) -> Self {
        StoreBuffer {
            slots: self.slots.clone(),
            head: self.head,
            len: self.len,
        }
    }

    /// In place when the capacities agree (restoring a snapshot allocates nothing).
    fn clone_from(&mut self, src: &Self) {
        if self.slots.len() == src.slots.len() {
            self.slots.copy_from_slice(&src.slots);
        } else {
            self.slots = src.slots.clone();
        }
        self.head = src.head;
        self.len = src.len;
    }
}

impl StoreBuffer {
    pub(super) fn new(capacity: usize) -> Self {
        StoreBuffer {
            slots: vec![SbEntry::default(); capacity].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == self.slots.len()
    }

    /// Caller guarantees `!is_full()`.
    pub(super) fn push(&mut self, e: SbEntry) {
        let cap = self.slots.len();
        self.slots[(self.head + self.len) % cap] = e;
        self.len += 1;
    }

    pub(super) fn pop(&mut self) -> Option<SbEntry> {
        if self.len == 0 {
            return None;
        }
        let e = self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(e)
    }

    pub(super) fn iter(&self) -> SbEntries<'_> {
        SbEntries {
            slots: &self.slots,
            head: self.head,
            front: 0,
            back: self.len,
        }
    }
}

/// Iterator over one host CPU's store-buffer entries, oldest first
/// (returned by [`Memory::sb_entries`]).
#[derive(Debug, Clone)]
pub struct SbEntries<'a> {
    pub(super) slots: &'a [SbEntry],
    pub(super) head: usize,
    pub(super) front: usize,
    pub(super) back: usize,
}

impl Iterator for SbEntries<'_> {
    type Item = SbEntry;

    fn next(&mut self) -> Option<SbEntry> {
        if self.front == self.back {
            return None;
        }
        let e = self.slots[(self.head + self.front) % self.slots.len()];
        self.front += 1;
        Some(e)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for SbEntries<'_> {
    fn next_back(&mut self) -> Option<SbEntry> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        Some(self.slots[(self.head + self.back) % self.slots.len()])
    }
}

impl ExactSizeIterator for SbEntries<'_> {}
