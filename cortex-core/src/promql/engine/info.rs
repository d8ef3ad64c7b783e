//! `info(v, {data-label matchers})` (experimental): adds the data labels of info
//! metrics (`target_info` by default) to the series of `v` that share their
//! identifying labels (`instance`, `job`).

use std::collections::{BTreeMap, HashMap, HashSet};

use cortex_tsdb::labels::{Labels, METRIC_NAME, MatchType, Matcher};

use super::evaluator::{EvalError, Evaluator, err};
use crate::promql::parser::Expr;
use crate::promql::value::{Matrix, Sample, Series};
use crate::querier::SelectHints;

const TARGET_INFO: &str = "target_info";
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The name matchers that pick info metrics: the given ones if any is positive,
/// otherwise the given ones restricted to `*_info`, or `target_info` without any.
fn effective_name_matchers(ms: &[Matcher]) -> Vec<Matcher> {
    if ms
        .iter()
        .any(|m| matches!(m.kind(), MatchType::Equal | MatchType::Regexp))
    {
        return ms.to_vec();
    }
    if !ms.is_empty() {
        let mut out = Vec::with_capacity(ms.len() + 1);
        if let Ok(m) = Matcher::new(MatchType::Regexp, METRIC_NAME, ".+_info") {
            out.push(m);
        }
        out.extend(ms.iter().cloned());
        return out;
    }
    vec![Matcher::equal(METRIC_NAME, TARGET_INFO)]
}

/// The `@` timestamp and offset of the first selector in `e` (adding the offsets of
/// enclosing subqueries until one has an `@`).
fn selector_time(e: &Expr) -> (Option<i64>, i64) {
    let mut found = None;
    e.inspect(&mut |n, path| {
        if found.is_some() {
            return false;
        }
        let vs = match n {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return true,
        };
        let mut ts = vs.timestamp;
        let mut off = vs.offset_ms;
        for p in path.iter().rev() {
            if ts.is_some() {
                break;
            }
            if let Expr::Subquery(sq) = p {
                off += sq.offset_ms;
                ts = sq.timestamp;
            }
        }
        found = Some((ts, off));
        false
    });
    found.unwrap_or((None, 0))
}

/// Escapes regex metacharacters.
fn quote_meta(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The join key of a series with info metric `name`: the name and the identifying
/// labels.
fn signature(name: &str, l: &Labels) -> Labels {
    let mut b = l.keep_only(&IDENTIFYING).to_builder();
    b.set(METRIC_NAME, name);
    b.build().unwrap_or_default()
}

impl Evaluator<'_> {
    pub(crate) fn eval_info(&mut self, args: &[Expr]) -> Result<Matrix, EvalError> {
        let (at, offset) = selector_time(&args[0]);
        let base = self.eval_matrix(&args[0])?;
        let mut data: BTreeMap<String, Vec<Matcher>> = BTreeMap::new();
        let mut name_matchers = Vec::new();
        if let Some(Expr::VectorSelector(sel)) = args.get(1) {
            for m in &sel.matchers {
                data.entry(m.name().to_string())
                    .or_default()
                    .push(m.clone());
                if m.name() == METRIC_NAME {
                    name_matchers.push(m.clone());
                }
            }
        } else {
            name_matchers.push(Matcher::equal(METRIC_NAME, TARGET_INFO));
        }
        let effective = effective_name_matchers(&name_matchers);
        let ignore: HashSet<Labels> = base
            .iter()
            .filter(|s| {
                let name = s.metric.get(METRIC_NAME).unwrap_or("");
                effective.iter().all(|m| m.matches(name))
            })
            .map(|s| s.metric.clone())
            .collect();
        let info = self.fetch_info(&base, &ignore, &mut data, at, offset)?;
        self.combine_info(&base, &info, &ignore, &data)
    }

    fn fetch_info(
        &mut self,
        base: &Matrix,
        ignore: &HashSet<Labels>,
        data: &mut BTreeMap<String, Vec<Matcher>>,
        at: Option<i64>,
        offset: i64,
    ) -> Result<Matrix, EvalError> {
        let mut id_values: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for s in base.iter().filter(|s| !ignore.contains(&s.metric)) {
            for l in IDENTIFYING {
                if let Some(v) = s.metric.get(l) {
                    let vals = id_values.entry(l).or_default();
                    if !vals.iter().any(|x| x == v) {
                        vals.push(v.to_string());
                    }
                }
            }
        }
        let names: Vec<Matcher> = data
            .values()
            .flatten()
            .filter(|m| m.name() == METRIC_NAME)
            .cloned()
            .collect();
        let others: Vec<Matcher> = data
            .values()
            .flatten()
            .filter(|m| m.name() != METRIC_NAME)
            .cloned()
            .collect();
        data.remove(METRIC_NAME);
        if id_values.is_empty() {
            return Ok(Vec::new());
        }
        let mut matchers = Vec::new();
        for (name, vals) in &id_values {
            let re: Vec<String> = vals.iter().map(|v| quote_meta(v)).collect();
            let m = Matcher::new(MatchType::Regexp, name, &re.join("|"))
                .map_err(|e| EvalError::Msg(e.to_string()))?;
            matchers.push(m);
        }
        matchers.extend(others);
        matchers.extend(effective_name_matchers(&names));
        let (mut start, mut end) = (self.start, self.end);
        if let Some(t) = at {
            start = t;
            end = t;
        }
        let hints = SelectHints {
            start: start - (self.lookback - 1) - offset,
            end: end - offset,
            step: self.interval,
            func: Some("info".into()),
            ..Default::default()
        };
        let series = self.ctx.select(&hints, &matchers)?;
        self.eval_series(&series, offset, at, true)
    }

    fn combine_info(
        &mut self,
        base: &Matrix,
        info: &Matrix,
        ignore: &HashSet<Labels>,
        data: &BTreeMap<String, Vec<Matcher>>,
    ) -> Result<Matrix, EvalError> {
        let info_names: Vec<String> = {
            let mut v: Vec<String> = info
                .iter()
                .map(|s| s.metric.get(METRIC_NAME).unwrap_or("").to_string())
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let all_match_empty = data.values().flatten().all(|m| m.matches(""));
        let (mut bpos, mut ipos) = (vec![0usize; base.len()], vec![0usize; info.len()]);
        let mut out: Matrix = Vec::new();
        let mut index: HashMap<Labels, (usize, i64)> = HashMap::new();
        let mut ts = self.start;
        while ts <= self.end {
            self.ctx.check_done()?;
            let mut by_sig: HashMap<Labels, (f64, &Labels)> = HashMap::new();
            for (i, s) in info.iter().enumerate() {
                let Some(p) = s.floats.get(ipos[i]).filter(|p| p.t == ts) else {
                    continue;
                };
                ipos[i] += 1;
                let name = s.metric.get(METRIC_NAME).unwrap_or("");
                let sig = signature(name, &s.metric);
                match by_sig.get(&sig) {
                    Some((t, existing)) if *t == p.f => {
                        return err(format!(
                            "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                            existing, *t as i64, s.metric, p.f as i64
                        ));
                    }
                    Some((t, _)) if *t > p.f => {}
                    _ => {
                        by_sig.insert(sig, (p.f, &s.metric));
                    }
                }
            }
            for (i, s) in base.iter().enumerate() {
                let sample = if let Some(p) = s.floats.get(bpos[i]).filter(|p| p.t == ts) {
                    bpos[i] += 1;
                    Sample {
                        metric: s.metric.clone(),
                        t: ts,
                        f: p.f,
                        h: None,
                        drop_name: s.drop_name,
                    }
                } else if let Some(p) = s.histograms.iter().find(|p| p.t == ts) {
                    Sample {
                        metric: s.metric.clone(),
                        t: ts,
                        f: 0.0,
                        h: Some(p.h.clone()),
                        drop_name: s.drop_name,
                    }
                } else {
                    continue;
                };
                let metric = if ignore.contains(&s.metric) {
                    s.metric.clone()
                } else {
                    let mut added: BTreeMap<&str, &str> = BTreeMap::new();
                    let mut seen = 0;
                    for name in &info_names {
                        let Some((_, im)) = by_sig.get(&signature(name, &s.metric)) else {
                            continue;
                        };
                        seen += 1;
                        for l in im.iter() {
                            if l.name == METRIC_NAME
                                || (!data.is_empty() && !data.contains_key(l.name))
                            {
                                continue;
                            }
                            if let Some(v) = added.get(l.name)
                                && *v != l.value
                            {
                                return err(format!("conflicting label: {}", l.name));
                            }
                            if s.metric.has(l.name) {
                                continue;
                            }
                            added.insert(l.name, l.value);
                        }
                    }
                    if seen == 0 && !all_match_empty {
                        continue;
                    }
                    let mut b = s.metric.to_builder();
                    for (n, v) in added {
                        b.set(n, v);
                    }
                    b.build().map_err(|e| EvalError::Msg(e.to_string()))?
                };
                match index.get_mut(&metric) {
                    Some((i, last)) => {
                        if *last == ts {
                            return err(super::evaluator::DUPLICATE_LABELSET);
                        }
                        *last = ts;
                        super::evaluator::add_point(&mut out[*i], ts, sample.f, sample.h);
                    }
                    None => {
                        index.insert(metric.clone(), (out.len(), ts));
                        let mut series = Series::new(metric);
                        series.drop_name = sample.drop_name;
                        super::evaluator::add_point(&mut series, ts, sample.f, sample.h);
                        out.push(series);
                    }
                }
            }
            ts += self.interval;
        }
        Ok(out)
    }
}
