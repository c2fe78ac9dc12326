//! Lists read from files and pages a user gives, refused as soon as they pass a count: the
//! byte bounds alone let a 37 MB pool build 200,000 models.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, Error as _, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;

/// Most models a pool names, and most heads (or calibrations) a heads file holds.
pub const MAX_MODELS: usize = 1000;

/// A list of at most [`MAX_MODELS`] items, for `#[serde(deserialize_with)]`.
pub(crate) fn models<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    at_most(deserializer, MAX_MODELS)
}

/// Most scores a card of published scores lists.
pub const MAX_SCORES: usize = 200;

/// A list of at most [`MAX_SCORES`] items, for `#[serde(deserialize_with)]`.
pub(crate) fn scores<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    at_most(deserializer, MAX_SCORES)
}

fn at_most<'de, D, T>(deserializer: D, max: usize) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    deserializer.deserialize_seq(AtMost {
        max,
        _item: PhantomData,
    })
}

struct AtMost<T> {
    max: usize,
    _item: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for AtMost<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {} entries", self.max)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        while items.len() < self.max {
            match seq.next_element()? {
                Some(item) => items.push(item),
                None => return Ok(items),
            }
        }
        // The next entry is skipped over, never built.
        if seq.next_element::<IgnoredAny>()?.is_some() {
            return Err(A::Error::custom(format!(
                "more than {} entries in one list: split it, or keep the ones you use",
                self.max
            )));
        }
        Ok(items)
    }
}
