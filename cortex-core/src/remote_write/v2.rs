//! Remote write 2.0: decoding and encoding `io.prometheus.write.v2.Request`
//! (`prompb/io/prometheus/write/v2/types.proto` in prometheus/prometheus), and the
//! counts a receiver echoes in the `X-Prometheus-Remote-Write-*-Written` headers.
//!
//! ```text
//! Request     [1-3 reserved], symbols=4 (string), timeseries=5 (TimeSeries)
//! TimeSeries  labels_refs=1 (uint32, packed), samples=2 (Sample), histograms=3,
//!             exemplars=4 (Exemplar), metadata=5 (Metadata),
//!             6 = created_timestamp (int64) in the 2.0 spec, reserved since
//! Sample      value=1 (double), timestamp=2 (int64), start_timestamp=3 (int64)
//! Exemplar    labels_refs=1 (uint32), value=2 (double), timestamp=3 (int64)
//! Metadata    type=1 (enum), help_ref=3 (uint32), unit_ref=4 (uint32)
//! Histogram   as in 1.0 (histogram.rs), plus start_timestamp=17
//! ```
//!
//! Label references are resolved against the symbols table into `&str`s borrowed from
//! the message, so decoded series look exactly like 1.0 ones. Metadata has no family
//! name on the wire; the decoded [`MetricMetadata::metric_family_name`] is the series'
//! `__name__`.
//!
//! Start ("created") timestamps: the 2.0 spec sends one per series (field 6); current
//! Prometheus sends one per sample and histogram instead. Both are read into the
//! series' [`TimeSeries::created_timestamp`]: field 6 when present, otherwise the
//! first non-zero per-sample start timestamp (a series normally carries one sample).
//! The encoder writes both forms so either kind of receiver reads it.

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

use super::error::DecodeError;
use super::histogram::{decode_histogram, encode_histogram};
use super::wire::{
    Reader, WireType, count_fields, expect, put_double_field, put_key, put_message,
    put_packed_varints, put_varint, put_varint_field,
};
use super::{
    Exemplar, Label, MetricMetadata, MetricType, Protocol, Sample, SeriesLabels, TimeSeries,
    WriteRequest,
};

/// Response header: number of float samples written.
pub const SAMPLES_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Samples-Written";
/// Response header: number of native histogram samples written.
pub const HISTOGRAMS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Histograms-Written";
/// Response header: number of exemplars written.
pub const EXEMPLARS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

/// What a remote write 2.0 receiver reports as written, one count per
/// `X-Prometheus-Remote-Write-*-Written` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WrittenCounts {
    /// Float samples.
    pub samples: u64,
    /// Native histogram samples.
    pub histograms: u64,
    /// Exemplars.
    pub exemplars: u64,
}

impl WrittenCounts {
    /// Everything in `req`: the counts when the whole request was written. A receiver
    /// that drops part of a request reports these minus what it dropped.
    pub fn of(req: &WriteRequest<'_>) -> WrittenCounts {
        let mut c = WrittenCounts::default();
        for ts in &req.timeseries {
            c.samples += ts.samples.len() as u64;
            c.histograms += ts.histograms.len() as u64;
            c.exemplars += ts.exemplars.len() as u64;
        }
        c
    }

    /// The three response headers with their values.
    pub fn headers(&self) -> [(&'static str, u64); 3] {
        [
            (SAMPLES_WRITTEN_HEADER, self.samples),
            (HISTOGRAMS_WRITTEN_HEADER, self.histograms),
            (EXEMPLARS_WRITTEN_HEADER, self.exemplars),
        ]
    }
}

/// Decodes an `io.prometheus.write.v2.Request` (already decompressed). Strings borrow
/// from `buf`; `protocol` is [`Protocol::V2`]; every series has `metadata` when the
/// sender wrote the field (Prometheus always does) and request-level `metadata` is
/// empty. Error paths start with `v2`.
pub fn decode_v2(buf: &[u8]) -> Result<WriteRequest<'_>, DecodeError> {
    decode_request(buf).map_err(|e| e.at_root("v2 "))
}

fn decode_request(buf: &[u8]) -> Result<WriteRequest<'_>, DecodeError> {
    let [n_symbols, n_series] = count_fields(buf, [4, 5]);
    // Symbols may come after the series that use them: read them first.
    let mut symbols: Vec<&str> = Vec::with_capacity(n_symbols);
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        if field == 4 {
            expect(field, wt, WireType::Len)?;
            let i = symbols.len();
            symbols.push(
                r.str()
                    .map_err(|e| DecodeError::from(e).within("symbols", i))?,
            );
        } else {
            r.skip(field, wt)?;
        }
    }
    let mut req = WriteRequest {
        timeseries: Vec::with_capacity(n_series),
        metadata: Vec::new(),
        protocol: Protocol::V2,
    };
    let mut refs = Vec::new();
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        if field == 5 {
            expect(field, wt, WireType::Len)?;
            let i = req.timeseries.len();
            let ts = decode_series(r.bytes()?, &symbols, &mut refs)
                .map_err(|e| e.within("timeseries", i))?;
            req.timeseries.push(ts);
        } else {
            r.skip(field, wt)?;
        }
    }
    Ok(req)
}

/// Metadata as refs, merged field by field over repeated occurrences as protobuf does.
#[derive(Default)]
struct RawMetadata {
    metric_type: MetricType,
    help_ref: u32,
    unit_ref: u32,
}

fn decode_series<'a>(
    buf: &[u8],
    symbols: &[&'a str],
    refs: &mut Vec<u32>,
) -> Result<TimeSeries<'a>, DecodeError> {
    let [n_samples, n_histograms, n_exemplars] = count_fields(buf, [2, 3, 4]);
    let mut ts = TimeSeries {
        labels: SmallVec::new(),
        samples: SmallVec::with_capacity(n_samples),
        histograms: Vec::with_capacity(n_histograms),
        exemplars: Vec::with_capacity(n_exemplars),
        metadata: None,
        created_timestamp: 0,
    };
    refs.clear();
    let mut metadata: Option<RawMetadata> = None;
    let mut series_ct = 0;
    let mut first_st = 0;
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => r.repeated_varint(field, wt, refs, |v| v as u32)?,
            2 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.samples.len();
                let (s, st) = decode_sample(r.bytes()?).map_err(|e| e.within("samples", i))?;
                if first_st == 0 {
                    first_st = st;
                }
                ts.samples.push(s);
            }
            3 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.histograms.len();
                let (h, st) =
                    decode_histogram(r.bytes()?).map_err(|e| e.within("histograms", i))?;
                if first_st == 0 {
                    first_st = st;
                }
                ts.histograms.push(h);
            }
            4 => {
                expect(field, wt, WireType::Len)?;
                let i = ts.exemplars.len();
                let ex =
                    decode_exemplar(r.bytes()?, symbols).map_err(|e| e.within("exemplars", i))?;
                ts.exemplars.push(ex);
            }
            5 => {
                expect(field, wt, WireType::Len)?;
                let md = metadata.get_or_insert_with(RawMetadata::default);
                decode_metadata(r.bytes()?, md).map_err(|e| e.in_field("metadata"))?;
            }
            6 => {
                expect(field, wt, WireType::Varint)?;
                series_ct = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    ts.labels = resolve_labels(refs, symbols)?;
    ts.created_timestamp = if series_ct != 0 { series_ct } else { first_st };
    if let Some(md) = metadata {
        let name = ts
            .labels
            .iter()
            .find(|l| l.name == "__name__")
            .map_or("", |l| l.value);
        let help =
            optional_symbol(symbols, md.help_ref, "help").map_err(|e| e.in_field("metadata"))?;
        let unit =
            optional_symbol(symbols, md.unit_ref, "unit").map_err(|e| e.in_field("metadata"))?;
        ts.metadata = Some(MetricMetadata {
            metric_family_name: name,
            metric_type: md.metric_type,
            help,
            unit,
        });
    }
    Ok(ts)
}

/// Resolves `labels_refs` pairs into labels.
#[inline]
fn resolve_labels<'a>(refs: &[u32], symbols: &[&'a str]) -> Result<SeriesLabels<'a>, DecodeError> {
    let (pairs, rest) = refs.as_chunks::<2>();
    if !rest.is_empty() {
        return Err(DecodeError::OddLabelRefs {
            path: String::new(),
            count: refs.len(),
        });
    }
    let mut labels = SeriesLabels::with_capacity(pairs.len());
    for &[name, value] in pairs {
        let name = symbol(symbols, name, "label")?;
        let value = symbol(symbols, value, "label")?;
        labels.push(Label { name, value });
    }
    Ok(labels)
}

#[inline]
fn symbol<'a>(symbols: &[&'a str], r: u32, kind: &'static str) -> Result<&'a str, DecodeError> {
    match symbols.get(r as usize) {
        Some(s) => Ok(s),
        None => Err(DecodeError::SymbolRefOutOfRange {
            path: String::new(),
            kind,
            reference: r,
            symbols: symbols.len(),
        }),
    }
}

/// An optional ref (help, unit): 0 means "not set" and reads as the empty string even
/// when a sender left the symbols table empty.
fn optional_symbol<'a>(
    symbols: &[&'a str],
    r: u32,
    kind: &'static str,
) -> Result<&'a str, DecodeError> {
    if r == 0 && symbols.is_empty() {
        Ok("")
    } else {
        symbol(symbols, r, kind)
    }
}

fn decode_sample(buf: &[u8]) -> Result<(Sample, i64), DecodeError> {
    let mut r = Reader::new(buf);
    let mut s = Sample {
        timestamp: 0,
        value: 0.0,
    };
    let mut st = 0;
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Fixed64)?;
                s.value = r.double()?;
            }
            2 => {
                expect(field, wt, WireType::Varint)?;
                s.timestamp = r.varint()? as i64;
            }
            3 => {
                expect(field, wt, WireType::Varint)?;
                st = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok((s, st))
}

fn decode_exemplar<'a>(buf: &[u8], symbols: &[&'a str]) -> Result<Exemplar<'a>, DecodeError> {
    let mut r = Reader::new(buf);
    let mut refs = Vec::new();
    let mut value = 0.0;
    let mut timestamp = 0;
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => r.repeated_varint(field, wt, &mut refs, |v| v as u32)?,
            2 => {
                expect(field, wt, WireType::Fixed64)?;
                value = r.double()?;
            }
            3 => {
                expect(field, wt, WireType::Varint)?;
                timestamp = r.varint()? as i64;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(Exemplar {
        labels: resolve_labels(&refs, symbols)?.into_vec(),
        value,
        timestamp,
    })
}

fn decode_metadata(buf: &[u8], md: &mut RawMetadata) -> Result<(), DecodeError> {
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        let (field, wt) = r.key()?;
        match field {
            1 => {
                expect(field, wt, WireType::Varint)?;
                md.metric_type = MetricType::from_proto(r.varint()?);
            }
            3 => {
                expect(field, wt, WireType::Varint)?;
                md.help_ref = r.varint()? as u32;
            }
            4 => {
                expect(field, wt, WireType::Varint)?;
                md.unit_ref = r.varint()? as u32;
            }
            _ => r.skip(field, wt)?,
        }
    }
    Ok(())
}

/// Interns strings into a symbols table that starts with the empty string.
struct Symbols<'a> {
    index: FxHashMap<&'a str, u32>,
    list: Vec<&'a str>,
}

impl<'a> Symbols<'a> {
    fn with_capacity(n: usize) -> Self {
        let mut index = FxHashMap::with_capacity_and_hasher(n, Default::default());
        index.insert("", 0);
        Symbols {
            index,
            list: vec![""],
        }
    }

    #[inline]
    fn get(&mut self, s: &'a str) -> u32 {
        let next = self.list.len() as u32;
        let r = *self.index.entry(s).or_insert(next);
        if r == next {
            self.list.push(s);
        }
        r
    }
}

/// Encodes `req` as an `io.prometheus.write.v2.Request` into `out` (cleared first; not
/// compressed). Symbols are numbered in order of first use after the leading empty
/// string. Request-level `metadata` (a 1.0 notion) and metadata family names are not
/// written; per-series metadata is. A series' `created_timestamp` is written both as
/// the 2.0 spec's series field 6 and as each sample's and histogram's start timestamp.
pub fn encode_v2(req: &WriteRequest<'_>, out: &mut Vec<u8>) {
    out.clear();
    let labels: usize = req.timeseries.iter().map(|ts| ts.labels.len()).sum();
    // Distinct strings are usually far fewer than label strings; start modest.
    let mut symbols = Symbols::with_capacity(labels / 2 + 16);
    let mut series = Vec::with_capacity(req.timeseries.len() * 64);
    let mut refs = Vec::new();
    for ts in &req.timeseries {
        put_message(&mut series, 5, |b| {
            encode_series(b, ts, &mut symbols, &mut refs)
        });
    }
    for s in &symbols.list {
        // Repeated strings are written even when empty: the position is the ref.
        put_key(out, 4, WireType::Len);
        put_varint(out, s.len() as u64);
        out.extend_from_slice(s.as_bytes());
    }
    out.extend_from_slice(&series);
}

fn encode_series<'a>(
    b: &mut Vec<u8>,
    ts: &TimeSeries<'a>,
    symbols: &mut Symbols<'a>,
    refs: &mut Vec<u32>,
) {
    put_label_refs(b, 1, &ts.labels, symbols, refs);
    let ct = ts.created_timestamp;
    for s in &ts.samples {
        put_message(b, 2, |b| {
            put_double_field(b, 1, s.value);
            put_varint_field(b, 2, s.timestamp as u64);
            put_varint_field(b, 3, ct as u64);
        });
    }
    for h in &ts.histograms {
        put_message(b, 3, |b| encode_histogram(b, h, ct));
    }
    for ex in &ts.exemplars {
        put_message(b, 4, |b| {
            put_label_refs(b, 1, &ex.labels, symbols, refs);
            put_double_field(b, 2, ex.value);
            put_varint_field(b, 3, ex.timestamp as u64);
        });
    }
    if let Some(md) = &ts.metadata {
        let help = symbols.get(md.help);
        let unit = symbols.get(md.unit);
        put_message(b, 5, |b| {
            put_varint_field(b, 1, md.metric_type.to_proto());
            put_varint_field(b, 3, u64::from(help));
            put_varint_field(b, 4, u64::from(unit));
        });
    }
    put_varint_field(b, 6, ct as u64);
}

#[inline]
fn put_label_refs<'a>(
    b: &mut Vec<u8>,
    field: u32,
    labels: &[Label<'a>],
    symbols: &mut Symbols<'a>,
    refs: &mut Vec<u32>,
) {
    refs.clear();
    for l in labels {
        refs.push(symbols.get(l.name));
        refs.push(symbols.get(l.value));
    }
    put_packed_varints(b, field, refs.iter().map(|&r| u64::from(r)));
}
