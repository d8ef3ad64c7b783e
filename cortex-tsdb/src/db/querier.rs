//! Reading a TSDB: blocks and head merged, as of the moment the querier was created.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::Result;
use crate::block::Block;
use crate::head::HeadQuerier;
use crate::labels::Matcher;
use crate::querier::{Series, merge_series, select_block};

/// A consistent view of a TSDB's blocks and head over `[mint, maxt]`.
pub struct DbQuerier<'a> {
    blocks: Vec<Arc<Block>>,
    head: HeadQuerier<'a>,
    mint: i64,
    maxt: i64,
}

impl<'a> DbQuerier<'a> {
    pub(super) fn new(
        blocks: Vec<Arc<Block>>,
        head: HeadQuerier<'a>,
        mint: i64,
        maxt: i64,
    ) -> DbQuerier<'a> {
        let blocks = blocks
            .into_iter()
            .filter(|b| b.overlaps(mint, maxt))
            .collect();
        DbQuerier {
            blocks,
            head,
            mint,
            maxt,
        }
    }

    /// The series matching all `matchers` with samples in range, in label order, each
    /// merged across blocks and head.
    pub fn select(&self, matchers: &[Matcher]) -> Result<Vec<Series>> {
        let mut lists = Vec::with_capacity(self.blocks.len() + 1);
        for b in &self.blocks {
            lists.push(select_block(b, matchers, self.mint, self.maxt)?);
        }
        lists.push(self.head.select(matchers)?);
        Ok(merge_series(lists))
    }

    /// Label names of series matching `matchers` (all when empty), sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        for b in &self.blocks {
            let found = if matchers.is_empty() {
                b.index().label_names()
            } else {
                b.index().label_names_matching(matchers)?
            };
            names.extend(
                found
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .map(str::to_string),
            );
        }
        names.extend(self.head.label_names(matchers));
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` among series matching `matchers`, sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>> {
        let mut values = BTreeSet::new();
        for b in &self.blocks {
            let found = if matchers.is_empty() {
                b.index().label_values(name)?
            } else {
                b.index().label_values_matching(name, matchers)?
            };
            values.extend(found.into_iter().map(str::to_string));
        }
        values.extend(self.head.label_values(name, matchers));
        Ok(values.into_iter().collect())
    }
}
