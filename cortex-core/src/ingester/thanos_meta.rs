//! The `meta.json` a block gets in the bucket: the block's own meta plus the `thanos`
//! section that Thanos' shipper adds when a Cortex ingester uploads it (Thanos
//! `pkg/block/metadata`): external labels (`__org_id__` = tenant, and
//! `__ingester_id__` when the ingester has an ID), `downsample.resolution` 0, `source`
//! `receive`, the chunk `segment_files`, the `files` with their sizes (meta.json
//! without one), an empty `index_stats` and the `upload_time`. Field names and order
//! are Thanos'; the encoding is Go's (tab indents, final newline). The local block's
//! meta.json is not touched.

use std::collections::BTreeMap;

use serde::Serialize;

use cortex_tsdb::block::BlockMeta;

/// The external label holding the tenant.
pub const TENANT_ID_EXTERNAL_LABEL: &str = "__org_id__";
/// The external label holding the ingester's ID.
pub const INGESTER_ID_EXTERNAL_LABEL: &str = "__ingester_id__";
/// The upload source Cortex ingesters write.
pub const RECEIVE_SOURCE: &str = "receive";

/// One file of an uploaded block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockFile {
    /// Path relative to the block directory (`chunks/000001`, `index`, `meta.json`).
    pub rel_path: String,
    /// Size in bytes; omitted (as Thanos omits it) for `meta.json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

#[derive(Serialize)]
struct Downsample {
    resolution: i64,
}

#[derive(Serialize)]
struct IndexStats {}

#[derive(Serialize)]
struct ThanosSection<'a> {
    labels: &'a BTreeMap<String, String>,
    downsample: Downsample,
    source: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    segment_files: &'a [String],
    #[serde(skip_serializing_if = "<[BlockFile]>::is_empty")]
    files: &'a [BlockFile],
    index_stats: IndexStats,
    upload_time: &'a str,
}

#[derive(Serialize)]
struct Upload<'a> {
    #[serde(flatten)]
    meta: &'a BlockMeta,
    thanos: ThanosSection<'a>,
}

/// The external labels of a tenant's blocks.
pub fn external_labels(tenant: &str, ingester_id: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert(TENANT_ID_EXTERNAL_LABEL.to_string(), tenant.to_string());
    if !ingester_id.is_empty() {
        l.insert(
            INGESTER_ID_EXTERNAL_LABEL.to_string(),
            ingester_id.to_string(),
        );
    }
    l
}

/// The bucket's `meta.json` for `meta`: `files` sorted by path as Thanos sorts them,
/// `segment_files` the names of the chunk files.
pub fn upload_meta_json(
    meta: &BlockMeta,
    labels: &BTreeMap<String, String>,
    files: &[BlockFile],
    upload_time: &str,
) -> Vec<u8> {
    let mut files = files.to_vec();
    files.sort_by(|a, b| a.rel_path.cmp(&b.rel_path));
    let segment_files: Vec<String> = files
        .iter()
        .filter_map(|f| f.rel_path.strip_prefix("chunks/").map(str::to_string))
        .collect();
    let section = ThanosSection {
        labels,
        downsample: Downsample { resolution: 0 },
        source: RECEIVE_SOURCE,
        segment_files: &segment_files,
        files: &files,
        index_stats: IndexStats {},
        upload_time,
    };
    let mut m = meta.clone();
    m.extra.remove("thanos");
    let upload = Upload {
        meta: &m,
        thanos: section,
    };
    let mut out = Vec::with_capacity(1024);
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    // Serializing plain data into a Vec cannot fail.
    if upload.serialize(&mut ser).is_err() {
        out.clear();
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cortex_tsdb::ulid::Ulid;

    #[test]
    fn thanos_section_has_thanos_fields_in_order() {
        let id: Ulid = "01HZX3Y5D8V0N7E6Q1W2R3T4Y5".parse().unwrap();
        let mut meta = BlockMeta::new_level1(id, 0, 7_200_000);
        meta.stats.num_samples = 10;
        let files = [
            BlockFile {
                rel_path: "meta.json".into(),
                size_bytes: None,
            },
            BlockFile {
                rel_path: "index".into(),
                size_bytes: Some(300),
            },
            BlockFile {
                rel_path: "chunks/000001".into(),
                size_bytes: Some(1234),
            },
        ];
        let json = upload_meta_json(
            &meta,
            &external_labels("team-a", ""),
            &files,
            "2024-01-01T00:00:00.5Z",
        );
        let text = String::from_utf8(json).unwrap();
        assert!(text.ends_with("}\n"));
        let expected_tail = "\t\"version\": 1,\n\t\"thanos\": {\n\t\t\"labels\": {\n\t\t\t\"__org_id__\": \"team-a\"\n\t\t},\n\t\t\"downsample\": {\n\t\t\t\"resolution\": 0\n\t\t},\n\t\t\"source\": \"receive\",\n\t\t\"segment_files\": [\n\t\t\t\"000001\"\n\t\t],\n\t\t\"files\": [\n\t\t\t{\n\t\t\t\t\"rel_path\": \"chunks/000001\",\n\t\t\t\t\"size_bytes\": 1234\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"rel_path\": \"index\",\n\t\t\t\t\"size_bytes\": 300\n\t\t\t},\n\t\t\t{\n\t\t\t\t\"rel_path\": \"meta.json\"\n\t\t\t}\n\t\t],\n\t\t\"index_stats\": {},\n\t\t\"upload_time\": \"2024-01-01T00:00:00.5Z\"\n\t}\n}\n";
        assert!(text.ends_with(expected_tail), "{text}");
        let back = BlockMeta::from_json(text.as_bytes(), std::path::Path::new("m")).unwrap();
        assert_eq!(back.ulid, id);
        assert_eq!(back.stats.num_samples, 10);
        let labels = external_labels("t", "ingester-1");
        assert_eq!(
            labels.get(INGESTER_ID_EXTERNAL_LABEL).unwrap(),
            "ingester-1"
        );
    }
}
