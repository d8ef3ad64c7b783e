//! Binary operators: arithmetic, comparison (filtering or `bool`), trimming and set
//! operators between scalars and vectors, with vector matching (`on`/`ignoring`,
//! `group_left`/`group_right`, `fill*`) and Prometheus' rules for which labels the
//! result keeps.

use std::collections::HashSet;
use std::sync::Arc;

use cortex_tsdb::histogram::{CounterResetHint, FloatHistogram};
use cortex_tsdb::labels::Labels;

use super::annotations::{Annotation, kinds, kinds::HistogramOp};
use super::engine::{EvalError, Evaluator, NodeHelper, err, is_metadata_label, match_signature};
use super::histogram::HistogramExt;
use super::parser::{BinOp, BinaryExpr, Cardinality, PosRange, ValueType, VectorMatching};
use super::value::{Sample, Vector, no_labels};

fn btos(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// `a op b` for two scalars (comparisons give 0 or 1).
pub(crate) fn scalar_binop(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Pow => a.powf(b),
        BinOp::Mod => a % b,
        BinOp::Eql => btos(a == b),
        BinOp::Neq => btos(a != b),
        BinOp::Gtr => btos(a > b),
        BinOp::Lss => btos(a < b),
        BinOp::Gte => btos(a >= b),
        BinOp::Lte => btos(a <= b),
        BinOp::Atan2 => a.atan2(b),
        _ => f64::NAN,
    }
}

/// Why an element-wise operation produced nothing.
enum ElemErr {
    /// Skip the element and report this annotation.
    Anno(Annotation),
    /// Exponential and custom-bucket histograms met.
    Incompatible,
}

/// One element-wise result: float, histogram, whether a comparison kept it, and an
/// info annotation to report.
type ElemResult = Result<(f64, Option<Arc<FloatHistogram>>, bool, Option<Annotation>), ElemErr>;

fn elem_binop(
    op: BinOp,
    l: f64,
    r: f64,
    hl: Option<&Arc<FloatHistogram>>,
    hr: Option<&Arc<FloatHistogram>>,
    pos: PosRange,
) -> ElemResult {
    let kind = |h: Option<&Arc<FloatHistogram>>| if h.is_some() { "histogram" } else { "float" };
    let incompatible = || {
        ElemErr::Anno(kinds::incompatible_types_in_binop(
            kind(hl),
            op.as_str(),
            kind(hr),
            pos,
        ))
    };
    match (hl, hr) {
        (None, None) => Ok(match op {
            BinOp::Eql => (l, None, l == r, None),
            BinOp::Neq => (l, None, l != r, None),
            BinOp::Gtr => (l, None, l > r, None),
            BinOp::Lss => (l, None, l < r, None),
            BinOp::Gte => (l, None, l >= r, None),
            BinOp::Lte => (l, None, l <= r, None),
            BinOp::TrimUpper | BinOp::TrimLower => return Err(incompatible()),
            _ => (scalar_binop(op, l, r), None, true, None),
        }),
        (None, Some(h)) => match op {
            BinOp::Mul => {
                let mut res = (**h).clone();
                res.mul(l).compact();
                Ok((0.0, Some(Arc::new(res)), true, None))
            }
            _ => Err(incompatible()),
        },
        (Some(h), None) => {
            let mut res = (**h).clone();
            match op {
                BinOp::Mul => {
                    res.mul(r).compact();
                }
                BinOp::Div => {
                    res.div(r).compact();
                }
                BinOp::TrimUpper => {
                    res.trim_buckets(r, true);
                }
                BinOp::TrimLower => {
                    res.trim_buckets(r, false);
                }
                _ => return Err(incompatible()),
            }
            Ok((0.0, Some(Arc::new(res)), true, None))
        }
        (Some(a), Some(b)) => match op {
            BinOp::Add | BinOp::Sub => {
                let mut res = (**a).clone();
                let c = if op == BinOp::Add {
                    res.add(b)
                } else {
                    res.sub(b)
                };
                let c = c.map_err(|_| ElemErr::Incompatible)?;
                let hop = if op == BinOp::Add {
                    HistogramOp::Add
                } else {
                    HistogramOp::Sub
                };
                if op == BinOp::Sub {
                    res.counter_reset_hint = CounterResetHint::Gauge;
                }
                res.compact();
                if c.counter_reset_collision {
                    return Err(ElemErr::Anno(kinds::counter_reset_collision(pos, hop)));
                }
                let info = c
                    .nhcb_bounds_reconciled
                    .then(|| kinds::mismatched_custom_buckets(pos, hop));
                Ok((0.0, Some(Arc::new(res)), true, info))
            }
            BinOp::Eql => Ok((0.0, Some(a.clone()), a.equals(b), None)),
            BinOp::Neq => Ok((0.0, Some(a.clone()), !a.equals(b), None)),
            _ => Err(incompatible()),
        },
    }
}

/// Records the annotation for a failed element.
fn report(enh: &mut NodeHelper, e: ElemErr, b: &BinaryExpr) {
    match e {
        ElemErr::Anno(a) => enh.annos.add(a),
        ElemErr::Incompatible => enh.annos.add(kinds::incompatible_bucket_layout(
            b.op.as_str(),
            PosRange::new(b.lhs.pos().start, b.rhs.pos().end),
        )),
    }
}

/// The labels of a vector-vector result: the "many" side's labels, without the
/// metric name for arithmetic, reduced to the `on` labels (or without the `ignoring`
/// labels) for one-to-one matching, plus the `group_*` labels from the "one" side.
fn result_metric(lhs: &Labels, rhs: &Labels, op: BinOp, m: &VectorMatching) -> Labels {
    let card = m.cardinality();
    let drop_meta = op.changes_metric_schema();
    let mut out = lhs.filter(|l| {
        if drop_meta && is_metadata_label(l.name) {
            return false;
        }
        if card == Cardinality::OneToOne {
            let listed = m.matching_labels.iter().any(|n| n == l.name);
            return if m.on { listed } else { !listed };
        }
        true
    });
    if !m.include.is_empty() {
        let mut b = out.to_builder();
        for name in &m.include {
            match rhs.get(name) {
                Some(v) => b.set(name, v),
                None => b.del(name),
            };
        }
        out = b.build().unwrap_or(out);
    }
    out
}

impl Evaluator<'_> {
    pub(crate) fn eval_binary(
        &mut self,
        b: &BinaryExpr,
    ) -> Result<super::value::Matrix, EvalError> {
        let (lt, rt) = (b.lhs.value_type(), b.rhs.value_type());
        let exprs = [&*b.lhs, &*b.rhs];
        let pos = PosRange::new(b.lhs.pos().start, b.rhs.pos().end);
        match (lt, rt) {
            (ValueType::Scalar, ValueType::Scalar) => {
                self.range_eval(None, &exprs, &mut |v, _, enh| {
                    let l = v[0].first().map_or(f64::NAN, |s| s.f);
                    let r = v[1].first().map_or(f64::NAN, |s| s.f);
                    enh.out
                        .push(Sample::float(no_labels(), scalar_binop(b.op, l, r)));
                    Ok(())
                })
            }
            (ValueType::Vector, ValueType::Vector) => {
                let Some(m) = &b.matching else {
                    return err("vector matching missing");
                };
                let mut present: HashSet<usize> = HashSet::new();
                self.range_eval(Some(m), &exprs, &mut |v, sigs, enh| match b.op {
                    BinOp::And | BinOp::Or | BinOp::Unless => {
                        set_op(b.op, &v[0], &v[1], &sigs[0], &sigs[1], &mut present, enh);
                        Ok(())
                    }
                    _ => vector_binop(b, m, &v[0], &v[1], &sigs[0], &sigs[1], enh, pos),
                })
            }
            (ValueType::Vector, _) => self.range_eval(None, &exprs, &mut |v, _, enh| {
                let s = v[1].first().map_or(f64::NAN, |s| s.f);
                vector_scalar(b, &v[0], s, false, enh, pos);
                Ok(())
            }),
            _ => self.range_eval(None, &exprs, &mut |v, _, enh| {
                let s = v[0].first().map_or(f64::NAN, |s| s.f);
                vector_scalar(b, &v[1], s, true, enh, pos);
                Ok(())
            }),
        }
    }
}

/// `and`, `or`, `unless` by match signature.
fn set_op(
    op: BinOp,
    lhs: &Vector,
    rhs: &Vector,
    lsig: &[usize],
    rsig: &[usize],
    present: &mut HashSet<usize>,
    enh: &mut NodeHelper,
) {
    present.clear();
    match op {
        BinOp::And => {
            if lhs.is_empty() || rhs.is_empty() {
                return;
            }
            present.extend(rsig.iter().copied());
            for (s, sig) in lhs.iter().zip(lsig) {
                if present.contains(sig) {
                    enh.out.push(s.clone());
                }
            }
        }
        BinOp::Or => {
            enh.out.extend(lhs.iter().cloned());
            present.extend(lsig.iter().copied());
            for (s, sig) in rhs.iter().zip(rsig) {
                if !present.contains(sig) {
                    enh.out.push(s.clone());
                }
            }
        }
        _ => {
            if lhs.is_empty() || rhs.is_empty() {
                enh.out.extend(lhs.iter().cloned());
                return;
            }
            present.extend(rsig.iter().copied());
            for (s, sig) in lhs.iter().zip(lsig) {
                if !present.contains(sig) {
                    enh.out.push(s.clone());
                }
            }
        }
    }
}

/// A vector-vector operation other than a set operator.
#[allow(clippy::too_many_arguments)]
fn vector_binop(
    b: &BinaryExpr,
    m: &VectorMatching,
    lhs: &Vector,
    rhs: &Vector,
    lsig: &[usize],
    rsig: &[usize],
    enh: &mut NodeHelper,
    pos: PosRange,
) -> Result<(), EvalError> {
    let card = m.cardinality();
    if card == Cardinality::ManyToMany {
        return err("many-to-many only allowed for set operators");
    }
    let no_fill = m.fill_lhs.is_none() && m.fill_rhs.is_none();
    if (lhs.is_empty() && rhs.is_empty()) || ((lhs.is_empty() || rhs.is_empty()) && no_fill) {
        return Ok(());
    }
    let swapped = card == Cardinality::OneToMany;
    let (lhs, rhs, lsig, rsig) = if swapped {
        (rhs, lhs, rsig, lsig)
    } else {
        (lhs, rhs, lsig, rsig)
    };
    // The "one" side, by signature ordinal.
    let nsig = lsig.iter().chain(rsig).copied().max().map_or(0, |x| x + 1);
    let mut right: Vec<Option<&Sample>> = vec![None; nsig];
    for (rs, &sig) in rhs.iter().zip(rsig) {
        if let Some(dup) = right[sig] {
            let side = if swapped { "left" } else { "right" };
            let (mut d1, mut d2) = (rs.metric.to_string(), dup.metric.to_string());
            if d1 > d2 {
                std::mem::swap(&mut d1, &mut d2);
            }
            return err(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{d1}, {d2}];many-to-many matching not allowed: matching labels must be unique on one side",
                match_signature(&rs.metric, m)
            ));
        }
        right[sig] = Some(rs);
    }
    let mut matched_one = vec![false; nsig];
    let mut matched_many: Vec<HashSet<Labels>> = if card == Cardinality::OneToOne {
        Vec::new()
    } else {
        vec![HashSet::new(); nsig]
    };
    let mut last_err: Option<ElemErr> = None;
    let do_op = |ls: &Sample,
                 rs: &Sample,
                 sig: usize,
                 enh: &mut NodeHelper,
                 matched_one: &mut Vec<bool>,
                 matched_many: &mut Vec<HashSet<Labels>>,
                 last_err: &mut Option<ElemErr>|
     -> Result<(), EvalError> {
        let (mut fl, mut fr, mut hl, mut hr) = (ls.f, rs.f, ls.h.as_ref(), rs.h.as_ref());
        if swapped {
            std::mem::swap(&mut fl, &mut fr);
            std::mem::swap(&mut hl, &mut hr);
        }
        let (mut f, mut h, keep, info) = match elem_binop(b.op, fl, fr, hl, hr, pos) {
            Ok(r) => r,
            Err(e) => {
                *last_err = Some(e);
                return Ok(());
            }
        };
        if let Some(i) = info {
            *last_err = Some(ElemErr::Anno(i));
        }
        if b.return_bool {
            h = None;
            f = btos(keep);
        }
        let metric = result_metric(&ls.metric, &rs.metric, b.op, m);
        if card == Cardinality::OneToOne {
            if matched_one[sig] {
                return err(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                );
            }
            matched_one[sig] = true;
        } else if !matched_many[sig].insert(metric.clone()) {
            return err("multiple matches for labels: grouping labels must ensure unique matches");
        }
        if !keep && !b.return_bool {
            return Ok(());
        }
        enh.out.push(Sample {
            metric,
            t: 0,
            f,
            h,
            drop_name: b.return_bool,
        });
        Ok(())
    };
    for (ls, &sig) in lhs.iter().zip(lsig) {
        match right[sig] {
            Some(rs) => do_op(
                ls,
                rs,
                sig,
                enh,
                &mut matched_one,
                &mut matched_many,
                &mut last_err,
            )?,
            None => {
                let Some(fill) = m.fill_rhs else {
                    continue;
                };
                let rs = Sample::float(match_signature(&ls.metric, m), fill);
                do_op(
                    ls,
                    &rs,
                    sig,
                    enh,
                    &mut matched_one,
                    &mut matched_many,
                    &mut last_err,
                )?;
            }
        }
    }
    if let Some(fill) = m.fill_lhs {
        for (rs, &sig) in rhs.iter().zip(rsig) {
            let done = if card == Cardinality::OneToOne {
                matched_one[sig]
            } else {
                !matched_many[sig].is_empty()
            };
            if done {
                continue;
            }
            let ls = Sample::float(match_signature(&rs.metric, m), fill);
            do_op(
                &ls,
                rs,
                sig,
                enh,
                &mut matched_one,
                &mut matched_many,
                &mut last_err,
            )?;
        }
    }
    if let Some(e) = last_err {
        report(enh, e, b);
    }
    Ok(())
}

/// A vector-scalar operation (`swap`: the scalar is on the left).
fn vector_scalar(
    b: &BinaryExpr,
    v: &Vector,
    s: f64,
    swap: bool,
    enh: &mut NodeHelper,
    pos: PosRange,
) {
    let mut last_err = None;
    for ls in v {
        let (mut lf, mut rf) = (ls.f, s);
        let (mut lh, mut rh) = (ls.h.as_ref(), None);
        if swap {
            std::mem::swap(&mut lf, &mut rf);
            std::mem::swap(&mut lh, &mut rh);
        }
        let (mut f, mut h, mut keep) = match elem_binop(b.op, lf, rf, lh, rh, pos) {
            Ok((f, h, keep, _)) => (f, h, keep),
            Err(e) => {
                last_err = Some(e);
                continue;
            }
        };
        if b.op.is_comparison() && swap {
            f = rf;
            h = rh.cloned();
        }
        if b.return_bool {
            f = btos(keep);
            keep = true;
        }
        if keep {
            enh.out.push(Sample {
                metric: ls.metric.clone(),
                t: ls.t,
                f,
                h,
                drop_name: ls.drop_name || b.op.changes_metric_schema() || b.return_bool,
            });
        }
    }
    if let Some(e) = last_err {
        report(enh, e, b);
    }
}
