//! `cortex tsdb create-blocks-from openmetrics FILE [OUT_DIR]`: back-fill blocks from an
//! OpenMetrics file, printing each created block as `promtool` does.

use std::io::Write;
use std::path::Path;

use cortex_tsdb::block::{BackfillOptions, create_blocks_from_openmetrics};

use super::ToolError;
use super::list::{BlockRow, format_rows};

/// Creates blocks in `out_dir` from the OpenMetrics file `input`.
pub fn run(
    input: &Path,
    out_dir: &Path,
    max_block_duration: i64,
    human: bool,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<(), ToolError> {
    let bytes = std::fs::read(input).map_err(|e| cortex_tsdb::Error::io("read", input, e))?;
    let opts = BackfillOptions {
        max_block_duration,
        ..Default::default()
    };
    let metas = create_blocks_from_openmetrics(&bytes, out_dir, opts)?;
    if !quiet {
        // promtool prints each block with its own column alignment, the header once.
        for (i, meta) in metas.into_iter().enumerate() {
            let size = cortex_tsdb::block::block_size(&out_dir.join(meta.ulid.to_string()))?;
            let row = BlockRow { meta, size };
            out.write_all(format_rows(&[row], i == 0, human).as_bytes())?;
        }
    }
    Ok(())
}

/// Parses a Go duration (`2h`, `1h30m`, `90s`, `500ms`) into milliseconds.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid duration {s:?}");
    if s == "0" {
        return Ok(0);
    }
    let mut rest = s;
    let mut total: i64 = 0;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let v: i64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphabetic() || *b == 0xc2 || *b == 0xb5)
            .count();
        let unit_ms: f64 = match &rest[..u] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1000.0,
            "ms" => 1.0,
            "us" | "µs" => 0.001,
            "ns" => 0.000_001,
            _ => return Err(bad()),
        };
        rest = &rest[u..];
        total = total
            .checked_add((v as f64 * unit_ms) as i64)
            .ok_or_else(bad)?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("0"), Ok(0));
        for bad in ["", "h", "2", "2x", "-1h"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
