//! Function calls: dispatch between instant-vector functions (evaluated step by step
//! over their evaluated arguments), range-vector functions (`range_fn.rs`), and the
//! functions that work on whole series (`label_replace`, `label_join`, `timestamp`
//! of a selector).

use cortex_tsdb::labels::METRIC_NAME;

use super::cursor::LookbackCursor;
use super::evaluator::{EvalError, Evaluator, NodeHelper, Val, err, merge_same_labelsets};
use crate::promql::annotations::kinds;
use crate::promql::functions::labels::{compile_go_regex, expand_template, is_valid_label_name};
use crate::promql::functions::{FnArgs, function_impl};
use crate::promql::parser::literal::go_quote_bytes;
use crate::promql::parser::{Call, Expr, StringLiteral, VectorSelector};
use crate::promql::value::{Matrix, Sample};

/// The value of a string argument.
pub(crate) fn string_arg(e: &Expr) -> &str {
    match e {
        Expr::StringLiteral(s) => &s.val,
        _ => "",
    }
}

/// A string argument as Prometheus quotes it in messages (`%s` of the literal).
fn quoted_raw(e: &Expr) -> String {
    match e {
        Expr::StringLiteral(StringLiteral {
            invalid_utf8: Some(b),
            ..
        }) => go_quote_bytes(b),
        Expr::StringLiteral(s) => s.val.clone(),
        _ => String::new(),
    }
}

fn label_name_ok(e: &Expr) -> bool {
    match e {
        Expr::StringLiteral(s) => s.invalid_utf8.is_none() && is_valid_label_name(&s.val),
        _ => false,
    }
}

impl Evaluator<'_> {
    pub(crate) fn eval_call(&mut self, c: &Call) -> Result<Val, EvalError> {
        let name = c.func.name;
        if matches!(name, "timestamp" | "start_timestamp")
            && let Some(Expr::VectorSelector(vs)) = c.args.first()
        {
            return self.timestamp_of_selector(vs, c).map(Val::Matrix);
        }
        if let Some(idx) = c
            .args
            .iter()
            .position(|a| matches!(a, Expr::MatrixSelector(_) | Expr::Subquery(_)))
        {
            return self.eval_range_call(c, idx);
        }
        match name {
            "label_replace" => return self.label_replace(&c.args).map(Val::Matrix),
            "label_join" => return self.label_join(&c.args).map(Val::Matrix),
            "info" => return self.eval_info(&c.args).map(Val::Matrix),
            _ => {}
        }
        let Some(call) = function_impl(name) else {
            return err(format!("function {name:?} is not implemented"));
        };
        if matches!(
            name,
            "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
        ) && self.start != self.end
        {
            self.ctx.annotate(kinds::sort_in_range_query(c.pos));
        }
        let exprs: Vec<&Expr> = c.args.iter().collect();
        let args = &c.args;
        let m = self.range_eval(None, &exprs, &mut |vals, _, enh| {
            let mut fa = FnArgs {
                vals,
                range: None,
                args,
                enh,
            };
            call(&mut fa)
        })?;
        Ok(Val::Matrix(m))
    }

    /// `timestamp(selector)`: the timestamps of the samples the selector picks, not
    /// the evaluation time.
    fn timestamp_of_selector(
        &mut self,
        vs: &VectorSelector,
        c: &Call,
    ) -> Result<Matrix, EvalError> {
        let series = self.ctx.series_for(vs)?;
        let mut cursors = Vec::with_capacity(series.len());
        for s in series.iter() {
            cursors.push(LookbackCursor::new(s.samples(), self.lookback - 1)?);
        }
        let lookback = self.lookback;
        let starts = c.func.name == "start_timestamp";
        let m = self.range_eval(None, &[], &mut |_, _, enh: &mut NodeHelper| {
            let ref_t = match vs.timestamp {
                Some(at) => at,
                None => enh.ts - vs.offset_ms,
            };
            for (s, cur) in series.iter().zip(cursors.iter_mut()) {
                let Some(sample) = cur.at(ref_t, lookback)? else {
                    continue;
                };
                let t = if starts { sample.st } else { sample.t };
                enh.out.push(Sample {
                    metric: s.labels().clone(),
                    t,
                    f: t as f64 / 1000.0,
                    h: None,
                    drop_name: true,
                });
            }
            Ok(())
        })?;
        Ok(m)
    }

    fn label_replace(&mut self, args: &[Expr]) -> Result<Matrix, EvalError> {
        let dst = string_arg(&args[1]);
        let repl = string_arg(&args[2]);
        let src = string_arg(&args[3]);
        let regex_str = string_arg(&args[4]);
        let Some(re) = compile_go_regex(regex_str) else {
            return err(format!(
                "invalid regular expression in label_replace(): {}",
                quoted_raw(&args[4])
            ));
        };
        if !label_name_ok(&args[1]) {
            return err(format!(
                "invalid destination label name in label_replace(): {}",
                quoted_raw(&args[1])
            ));
        }
        let mut m = self.eval_matrix(&args[0])?;
        for s in &mut m {
            let src_val = s.metric.get(src).unwrap_or("").to_string();
            if let Some(caps) = re.captures(&src_val) {
                let res = expand_template(&re, &caps, repl);
                let mut b = s.metric.to_builder();
                b.set(dst, &res);
                s.metric = b.build().map_err(|e| EvalError::Msg(e.to_string()))?;
                if dst == METRIC_NAME {
                    s.drop_name = false;
                }
            }
        }
        merge_same_labelsets(m)
    }

    fn label_join(&mut self, args: &[Expr]) -> Result<Matrix, EvalError> {
        let dst = string_arg(&args[1]);
        let sep = string_arg(&args[2]);
        let mut srcs = Vec::with_capacity(args.len().saturating_sub(3));
        for a in &args[3..] {
            if !label_name_ok(a) {
                return err(format!(
                    "invalid source label name in label_join(): {}",
                    quoted_raw(a)
                ));
            }
            srcs.push(string_arg(a));
        }
        if !label_name_ok(&args[1]) {
            return err(format!(
                "invalid destination label name in label_join(): {}",
                quoted_raw(&args[1])
            ));
        }
        let mut m = self.eval_matrix(&args[0])?;
        for s in &mut m {
            let joined = srcs
                .iter()
                .map(|l| s.metric.get(l).unwrap_or(""))
                .collect::<Vec<_>>()
                .join(sep);
            let mut b = s.metric.to_builder();
            b.set(dst, &joined);
            s.metric = b.build().map_err(|e| EvalError::Msg(e.to_string()))?;
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        merge_same_labelsets(m)
    }
}
