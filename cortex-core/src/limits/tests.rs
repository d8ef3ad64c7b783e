//! Tests of the limits table, YAML parsing and runtime overrides.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use super::overrides::parse_runtime_config;
use super::*;

/// (key, flag, default) as Cortex's configuration reference documents them.
const CORTEX_REFERENCE: &[(&str, &str, &str)] = &[
    (
        "ingestion_rate",
        "distributor.ingestion-rate-limit",
        "25000",
    ),
    (
        "native_histogram_ingestion_rate",
        "distributor.native-histogram-ingestion-rate-limit",
        "1.7976931348623157e+308",
    ),
    (
        "ingestion_rate_strategy",
        "distributor.ingestion-rate-limit-strategy",
        "\"local\"",
    ),
    (
        "ingestion_burst_size",
        "distributor.ingestion-burst-size",
        "50000",
    ),
    (
        "native_histogram_ingestion_burst_size",
        "distributor.native-histogram-ingestion-burst-size",
        "0",
    ),
    (
        "accept_ha_samples",
        "distributor.ha-tracker.enable-for-all-users",
        "false",
    ),
    (
        "accept_mixed_ha_samples",
        "experimental.distributor.ha-tracker.mixed-ha-samples",
        "false",
    ),
    (
        "ha_cluster_label",
        "distributor.ha-tracker.cluster",
        "\"cluster\"",
    ),
    (
        "ha_replica_label",
        "distributor.ha-tracker.replica",
        "\"__replica__\"",
    ),
    (
        "ha_max_clusters",
        "distributor.ha-tracker.max-clusters",
        "0",
    ),
    (
        "ha_tracker_failover_timeout",
        "distributor.ha-tracker.failover-timeout",
        "30s",
    ),
    ("drop_labels", "distributor.drop-label", "[]"),
    (
        "max_label_name_length",
        "validation.max-length-label-name",
        "1024",
    ),
    (
        "max_label_value_length",
        "validation.max-length-label-value",
        "2048",
    ),
    (
        "max_label_names_per_series",
        "validation.max-label-names-per-series",
        "30",
    ),
    (
        "max_labels_size_bytes",
        "validation.max-labels-size-bytes",
        "0",
    ),
    (
        "max_metadata_length",
        "validation.max-metadata-length",
        "1024",
    ),
    (
        "reject_old_samples",
        "validation.reject-old-samples",
        "false",
    ),
    (
        "reject_old_samples_max_age",
        "validation.reject-old-samples.max-age",
        "2w",
    ),
    (
        "creation_grace_period",
        "validation.create-grace-period",
        "10m",
    ),
    (
        "enforce_metadata_metric_name",
        "validation.enforce-metadata-metric-name",
        "true",
    ),
    (
        "enforce_metric_name",
        "validation.enforce-metric-name",
        "true",
    ),
    (
        "ingestion_tenant_shard_size",
        "distributor.ingestion-tenant-shard-size",
        "0",
    ),
    (
        "max_native_histogram_buckets",
        "validation.max-native-histogram-buckets",
        "0",
    ),
    (
        "max_series_per_user",
        "ingester.max-series-per-user",
        "5000000",
    ),
    (
        "max_series_per_metric",
        "ingester.max-series-per-metric",
        "50000",
    ),
    (
        "max_global_series_per_user",
        "ingester.max-global-series-per-user",
        "0",
    ),
    (
        "max_global_series_per_metric",
        "ingester.max-global-series-per-metric",
        "0",
    ),
    (
        "enable_native_histograms",
        "blocks-storage.tsdb.enable-native-histograms",
        "false",
    ),
    (
        "max_metadata_per_user",
        "ingester.max-metadata-per-user",
        "8000",
    ),
    (
        "max_metadata_per_metric",
        "ingester.max-metadata-per-metric",
        "10",
    ),
    (
        "max_global_metadata_per_user",
        "ingester.max-global-metadata-per-user",
        "0",
    ),
    (
        "max_global_metadata_per_metric",
        "ingester.max-global-metadata-per-metric",
        "0",
    ),
    (
        "out_of_order_time_window",
        "ingester.out-of-order-time-window",
        "0s",
    ),
    ("max_exemplars", "ingester.max-exemplars", "0"),
    (
        "max_fetched_chunks_per_query",
        "querier.max-fetched-chunks-per-query",
        "2000000",
    ),
    (
        "max_fetched_series_per_query",
        "querier.max-fetched-series-per-query",
        "0",
    ),
    (
        "max_fetched_chunk_bytes_per_query",
        "querier.max-fetched-chunk-bytes-per-query",
        "0",
    ),
    (
        "max_fetched_data_bytes_per_query",
        "querier.max-fetched-data-bytes-per-query",
        "0",
    ),
    ("max_query_lookback", "querier.max-query-lookback", "0s"),
    ("max_query_length", "store.max-query-length", "0s"),
    (
        "max_query_parallelism",
        "querier.max-query-parallelism",
        "14",
    ),
    (
        "max_query_response_size",
        "frontend.max-query-response-size",
        "0",
    ),
    ("max_cache_freshness", "frontend.max-cache-freshness", "1m"),
    (
        "max_queriers_per_tenant",
        "frontend.max-queriers-per-tenant",
        "0",
    ),
    (
        "query_vertical_shard_size",
        "frontend.query-vertical-shard-size",
        "0",
    ),
    (
        "query_ingesters_within",
        "limits.query-ingesters-within",
        "0s",
    ),
    ("query_store_after", "limits.query-store-after", "0s"),
    (
        "shuffle_sharding_ingesters_lookback_period",
        "limits.shuffle-sharding-ingesters-lookback-period",
        "0s",
    ),
    (
        "max_outstanding_requests_per_tenant",
        "frontend.max-outstanding-requests-per-tenant",
        "100",
    ),
    ("ruler_tenant_shard_size", "ruler.tenant-shard-size", "0"),
    (
        "ruler_max_rules_per_rule_group",
        "ruler.max-rules-per-rule-group",
        "0",
    ),
    (
        "ruler_max_rule_groups_per_tenant",
        "ruler.max-rule-groups-per-tenant",
        "0",
    ),
    ("ruler_query_offset", "ruler.query-offset", "0s"),
    (
        "store_gateway_tenant_shard_size",
        "store-gateway.tenant-shard-size",
        "0",
    ),
    (
        "max_downloaded_bytes_per_request",
        "store-gateway.max-downloaded-bytes-per-request",
        "0",
    ),
    (
        "compactor_blocks_retention_period",
        "compactor.blocks-retention-period",
        "0s",
    ),
    (
        "compactor_tenant_shard_size",
        "compactor.tenant-shard-size",
        "0",
    ),
];

#[test]
fn defaults_and_flags_match_cortex_reference() {
    let defaults = Limits::default();
    assert_eq!(options().len(), CORTEX_REFERENCE.len());
    for (key, flag, doc_default) in CORTEX_REFERENCE {
        let opt = option_by_key(key).unwrap_or_else(|| panic!("no option {key}"));
        assert_eq!(opt.flag, *flag, "{key}");
        assert_eq!(opt.value_text(&defaults), *doc_default, "{key}");
        assert!(!opt.help().is_empty(), "{key}");
        assert!(std::ptr::eq(option_by_flag(flag).unwrap(), opt));
    }
}

#[test]
fn option_table_covers_every_serialized_field() {
    let yaml = serde_yaml::to_value(Limits::default()).unwrap();
    let serde_keys: BTreeSet<String> = yaml
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let table_keys: BTreeSet<String> = options().iter().map(|o| o.key.to_string()).collect();
    assert_eq!(serde_keys, table_keys);
    let flags: BTreeSet<&str> = options().iter().map(|o| o.flag).collect();
    assert_eq!(flags.len(), options().len(), "flags are unique");
}

#[test]
fn every_option_setter_changes_its_own_field() {
    let samples: HashMap<&str, &str> = [
        ("float", "12.5"),
        ("int", "7"),
        ("boolean", "true"),
        ("duration", "1h30m"),
        ("list of string", "foo"),
    ]
    .into_iter()
    .collect();
    for opt in options() {
        let mut l = Limits::default();
        let value = match (opt.kind, opt.key) {
            ("string", "ingestion_rate_strategy") => "global",
            ("string", _) => "some_label",
            // Flip whichever default a boolean has.
            ("boolean", _) if opt.value_text(&l) == "true" => "false",
            (kind, _) => samples[kind],
        };
        opt.set(&mut l, value).unwrap();
        assert_ne!(l, Limits::default(), "{} did not change", opt.key);
        // Exactly this field changed: resetting it through YAML restores the defaults.
        let mut back = serde_yaml::to_value(&l).unwrap();
        let default_value = serde_yaml::to_value(Limits::default()).unwrap()[opt.key].clone();
        back[opt.key] = default_value;
        let back: Limits = serde_yaml::from_value(back).unwrap();
        assert_eq!(back, Limits::default(), "{} changed another field", opt.key);
    }
}

#[test]
fn flag_values_parse_like_go_flags() {
    let mut l = Limits::default();
    option_by_flag("validation.reject-old-samples")
        .unwrap()
        .set(&mut l, "T")
        .unwrap();
    assert!(l.reject_old_samples);
    let drop = option_by_flag("distributor.drop-label").unwrap();
    drop.set(&mut l, "a").unwrap();
    drop.set(&mut l, "b").unwrap();
    assert_eq!(l.drop_labels, ["a", "b"]);
    assert_eq!(drop.value_text(&l), "[a b]");

    let err = option_by_flag("distributor.ingestion-rate-limit")
        .unwrap()
        .set(&mut l, "fast")
        .unwrap_err();
    assert!(
        matches!(err, LimitsError::InvalidFlagValue { flag, .. } if flag == "distributor.ingestion-rate-limit")
    );
    let err = option_by_flag("validation.create-grace-period")
        .unwrap()
        .set(&mut l, "10")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid value \"10\" for flag -validation.create-grace-period: not a valid duration string: \"10\""
    );
    assert!(
        option_by_flag("validation.reject-old-samples")
            .unwrap()
            .set(&mut l, "yes")
            .is_err()
    );
    assert!(
        option_by_flag("distributor.ingestion-rate-limit-strategy")
            .unwrap()
            .set(&mut l, "everywhere")
            .is_err()
    );
    let usage = option_by_key("ingestion_rate")
        .unwrap()
        .usage(&Limits::default());
    assert!(
        usage.starts_with("-distributor.ingestion-rate-limit <float>\n"),
        "{usage}"
    );
    assert!(usage.ends_with("(default 25000)"), "{usage}");
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    limits: Limits,
}

#[test]
fn yaml_block_keeps_defaults_for_missing_keys() {
    let c: Config = serde_yaml::from_str(
        "limits:\n  ingestion_rate: 10\n  reject_old_samples_max_age: 1w\n  drop_labels: [a]\n  ingestion_rate_strategy: global\n",
    )
    .unwrap();
    assert_eq!(c.limits.ingestion_rate, 10.0);
    assert_eq!(
        c.limits.reject_old_samples_max_age,
        Duration::from_secs(7 * 86400)
    );
    assert_eq!(c.limits.drop_labels, ["a"]);
    assert_eq!(
        c.limits.ingestion_rate_strategy,
        IngestionRateStrategy::Global
    );
    assert_eq!(c.limits.ingestion_burst_size, 50000);
    let round: Limits = serde_yaml::from_str(&serde_yaml::to_string(&c.limits).unwrap()).unwrap();
    assert_eq!(round, c.limits);
}

#[test]
fn yaml_errors_name_the_key_and_line() {
    let err = serde_yaml::from_str::<Config>("limits:\n  ingestion_ratee: 5\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("limits"), "{err}");
    assert!(err.contains("unknown field `ingestion_ratee`"), "{err}");
    assert!(err.contains("line 2"), "{err}");

    let err = serde_yaml::from_str::<Config>("limits:\n  max_series_per_user: lots\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("limits.max_series_per_user"), "{err}");
    assert!(err.contains("invalid type"), "{err}");

    let err = serde_yaml::from_str::<Config>("limits:\n  creation_grace_period: 10 minutes\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("limits.creation_grace_period"), "{err}");
    assert!(err.contains("unknown unit"), "{err}");
}

#[test]
fn validate_refuses_negative_rates() {
    let l = Limits {
        ingestion_rate: -1.0,
        ..Limits::default()
    };
    assert!(matches!(
        l.validate(),
        Err(LimitsError::Invalid {
            key: "ingestion_rate",
            ..
        })
    ));
    assert!(Limits::default().validate().is_ok());
}

#[test]
fn overrides_fall_back_to_configured_defaults() {
    let defaults = Limits {
        ingestion_rate: 1000.0,
        ..Limits::default()
    };
    let text = "overrides:\n  team-a:\n    ingestion_burst_size: 7\n  team-b:\n    ingestion_rate: 5\n  team-c:\n";
    let table = parse_runtime_config(&defaults, text).unwrap();
    assert_eq!(table["team-a"].ingestion_burst_size, 7);
    assert_eq!(table["team-a"].ingestion_rate, 1000.0);
    assert_eq!(table["team-b"].ingestion_rate, 5.0);
    assert_eq!(table["team-b"].ingestion_burst_size, 50000);
    assert_eq!(*table["team-c"], defaults);
    assert!(parse_runtime_config(&defaults, "").unwrap().is_empty());
    assert!(
        parse_runtime_config(&defaults, "# nothing yet\n")
            .unwrap()
            .is_empty()
    );
    assert!(
        parse_runtime_config(&defaults, "overrides:\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn overrides_errors_name_key_and_line() {
    let d = Limits::default();
    let err = parse_runtime_config(
        &d,
        "overrides:\n  t1:\n    ingestion_rate: 1\n  t2:\n    ingestion_ratee: 5\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown field `ingestion_ratee`"), "{err}");
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("overrides.t2"), "{err}");

    let err = parse_runtime_config(&d, "overrides:\n  t1:\n    max_series_per_user: -3\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "parsing runtime config: overrides.t1.max_series_per_user: invalid type: integer `-3`, expected usize at line 3 column 26"
    );

    let err = parse_runtime_config(&d, "overides: {}\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `overides`"), "{err}");

    let err = parse_runtime_config(&d, "overrides:\n  t1:\n    ingestion_rate: -5\n")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "invalid overrides for tenant \"t1\": ingestion_rate: must be a number not below zero, got -5"
    );
}

#[test]
fn overrides_without_file_give_defaults() {
    let o = Overrides::new(Limits::default());
    assert_eq!(*o.tenant("anyone"), Limits::default());
    assert!(o.reload().is_ok());
    assert_eq!(o.reloads(), 0);
    let fixed = Overrides::from_tenants(
        Limits::default(),
        HashMap::from([(
            "x".to_string(),
            Limits {
                max_query_parallelism: 2,
                ..Limits::default()
            },
        )]),
    );
    assert_eq!(fixed.tenant("x").max_query_parallelism, 2);
    assert_eq!(fixed.overridden_tenants(), ["x"]);
}

#[test]
fn reload_swaps_in_new_overrides_and_keeps_old_ones_on_failure() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.yaml");
    std::fs::write(&path, "overrides:\n  t:\n    ingestion_rate: 1\n").unwrap();
    let o = Overrides::load(Limits::default(), &path).unwrap();
    let before = o.tenant("t");
    assert_eq!(before.ingestion_rate, 1.0);

    std::fs::write(
        &path,
        "overrides:\n  t:\n    ingestion_rate: 2\n  u:\n    max_exemplars: -1\n",
    )
    .unwrap();
    o.reload().unwrap();
    assert_eq!(o.tenant("t").ingestion_rate, 2.0);
    assert_eq!(o.tenant("u").max_exemplars, -1);
    assert_eq!(
        before.ingestion_rate, 1.0,
        "readers keep the snapshot they hold"
    );
    assert_eq!(o.overridden_tenants(), ["t", "u"]);

    std::fs::write(&path, "overrides:\n  t:\n    ingestion_rate: [3]\n").unwrap();
    let err = o.reload().unwrap_err();
    assert!(matches!(err, LimitsError::Parse { .. }));
    assert_eq!(o.tenant("t").ingestion_rate, 2.0);
    assert_eq!(o.reload_failures(), 1);
    assert!(!o.last_reload_successful());
    let msg = o.last_reload_error().unwrap();
    assert!(msg.contains("overrides.t.ingestion_rate"), "{msg}");
    assert!(msg.contains("runtime.yaml"), "{msg}");

    std::fs::remove_file(&path).unwrap();
    assert!(matches!(o.reload(), Err(LimitsError::Read { .. })));
    assert_eq!(o.reload_failures(), 2);
    assert_eq!(o.tenant("t").ingestion_rate, 2.0);
    assert_eq!(o.reloads(), 3);
}

#[test]
fn load_fails_on_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.yaml");
    std::fs::write(&path, "overrides:\n  t:\n    bogus: 1\n").unwrap();
    let err = Overrides::load(Limits::default(), &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `bogus`"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    let missing = Overrides::load(Limits::default(), dir.path().join("nope.yaml"));
    assert!(matches!(missing, Err(LimitsError::Read { .. })));
    let none = Overrides::from_config(Limits::default(), &RuntimeConfig::default()).unwrap();
    assert!(none.file().is_none());
    assert_eq!(RuntimeConfig::default().period, Duration::from_secs(10));
}

#[test]
fn background_reloader_picks_up_changes_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runtime.yaml");
    std::fs::write(&path, "overrides:\n  t:\n    ingestion_rate: 1\n").unwrap();
    let o = Arc::new(Overrides::load(Limits::default(), &path).unwrap());
    let handle = spawn_reloader(Arc::clone(&o), std::time::Duration::from_millis(5)).unwrap();
    std::fs::write(&path, "overrides:\n  t:\n    ingestion_rate: 9\n").unwrap();
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while o.tenant("t").ingestion_rate != 9.0 {
        assert!(Instant::now() < deadline, "reload not seen");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // Stopping joins the thread: nothing reloads afterwards.
    handle.stop();
    let reloads = o.reloads();
    std::fs::write(&path, "overrides:\n  t:\n    ingestion_rate: 4\n").unwrap();
    assert_eq!(o.reloads(), reloads);
    assert_eq!(o.tenant("t").ingestion_rate, 9.0);
    assert_eq!(
        Arc::strong_count(&o),
        1,
        "the thread released its reference"
    );
}
