//! Configuration loading: defaults, file, flags, and errors that name the key.

use std::io::Write;

use super::*;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

#[test]
fn embedded_defaults_are_the_single_binary_ones() {
    let c = Config::load(&[]).unwrap();
    assert_eq!(c.target, "all");
    assert!(c.auth_enabled);
    assert_eq!(c.server.http_listen_port, 9009);
    assert_eq!(c.server.grpc_listen_port, 9095);
    assert_eq!(
        c.blocks_storage.filesystem.dir,
        PathBuf::from("./data/bucket")
    );
    assert_eq!(c.blocks_storage.tsdb.dir, PathBuf::from("./data/tsdb"));
    assert_eq!(c.limits.ingestion_rate, 25000.0);
    assert_eq!(c.distributor.max_recv_msg_size, 100 << 20);
}

#[test]
fn flags_override_the_file_and_use_cortex_names() {
    let f = file(
        "server:\n  http_listen_port: 8000\nlimits:\n  ingestion_rate: 10\n  max_label_names_per_series: 5\n",
    );
    let c = Config::load(&args(&[
        "-config.file",
        f.path().to_str().unwrap(),
        "-server.http-listen-port=8080",
        "--distributor.ingestion-rate-limit=99",
        "-auth.enabled=false",
        "-blocks-storage.tsdb.dir",
        "/tmp/x",
        "-limits.max_label_name_length=7",
        "-blocks-storage.tsdb.flush-blocks-on-shutdown",
    ]))
    .unwrap();
    assert_eq!(c.server.http_listen_port, 8080);
    assert_eq!(c.limits.ingestion_rate, 99.0);
    assert_eq!(c.limits.max_label_names_per_series, 5);
    assert_eq!(c.limits.max_label_name_length, 7);
    assert!(!c.auth_enabled);
    assert!(c.blocks_storage.tsdb.flush_blocks_on_shutdown);
    assert_eq!(c.blocks_storage.tsdb.dir, PathBuf::from("/tmp/x"));
}

#[test]
fn bad_config_names_the_key() {
    let f = file("limits:\n  ingestion_ratee: 10\n");
    let e = Config::load(&args(&["-config.file", f.path().to_str().unwrap()]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ingestion_ratee"), "{e}");
    assert!(e.contains("limits"), "{e}");

    let f = file("server:\n  http_listen_port: lots\n");
    let e = Config::load(&args(&["-config.file", f.path().to_str().unwrap()]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.http_listen_port"), "{e}");

    let e = Config::load(&args(&["-server.http-listen-port=x"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("-server.http-listen-port"), "{e}");
    let e = Config::load(&args(&["-no.such-flag=1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no.such-flag"), "{e}");
    let e = Config::load(&args(&["-target=querier"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("target"), "{e}");
    let e = Config::load(&args(&["-blocks-storage.backend=swift"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("blocks_storage.backend"), "{e}");
    let e = Config::load(&args(&["-blocks-storage.backend=gcs"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("blocks_storage.gcs.bucket_name"), "{e}");
    let e = Config::load(&args(&[
        "-blocks-storage.backend=azure",
        "-blocks-storage.azure.account-name=cortexblocks",
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("blocks_storage.azure.container_name"), "{e}");
    let e = Config::load(&args(&["-blocks-storage.backend=s3"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("blocks_storage.s3.bucket_name"), "{e}");
    let e = Config::load(&args(&["-distributor.ingestion-rate-limit=-1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("ingestion_rate"), "{e}");
}

#[test]
fn expand_env_applies_only_when_asked() {
    let f = file("server:\n  http_listen_port: ${CORTEX_TEST_PORT:7777}\n");
    let p = f.path().to_str().unwrap();
    let c = Config::load(&args(&["-config.file", p, "-config.expand-env"])).unwrap();
    assert_eq!(c.server.http_listen_port, 7777);
    assert!(Config::load(&args(&["-config.file", p])).is_err());
}

#[test]
fn yaml_round_trips_and_every_leaf_is_a_flag() {
    let c = Config::default();
    let back: Config = serde_yaml::from_str(&c.to_yaml()).unwrap();
    assert_eq!(back, c);
    let u = usage();
    for flag in [
        "-server.http-listen-port",
        "-blocks-storage.tsdb.retention-period",
        "-distributor.ingestion-rate-limit",
        "-auth.enabled",
        "-runtime-config.file",
    ] {
        assert!(u.contains(flag), "{flag} missing from usage");
    }
    // Every flag the usage lists is accepted.
    for line in u.lines() {
        let Some(flag) = line.trim().strip_prefix('-') else {
            continue;
        };
        if flag.starts_with("config.") {
            continue;
        }
        let flag = flag.split_whitespace().next().unwrap();
        assert!(
            parse_args(&args(&[&format!("-{flag}")]))
                .map(|_| ())
                .or_else(|e| match e {
                    ConfigError::MissingValue(_) => Ok(()),
                    other => Err(other),
                })
                .is_ok(),
            "usage lists -{flag} but it is refused"
        );
    }
}

#[test]
fn ring_store_flags_select_etcd_with_cortex_names() {
    let c = Config::load(&args(&[
        "-ingester.lifecycler.address=127.0.0.1",
        "-ring.store=etcd",
        "-ring.prefix=rings/",
        "-etcd.endpoints=etcd-0:2379,etcd-1:2379",
        "-etcd.dial-timeout=3s",
        "-etcd.max-retries=4",
    ]))
    .unwrap();
    let kv = &c.ingester.lifecycler.ring.kvstore;
    assert_eq!(kv.store, "etcd");
    assert_eq!(kv.prefix, "rings/");
    assert_eq!(kv.etcd.endpoints, vec!["etcd-0:2379", "etcd-1:2379"]);
    assert_eq!(
        kv.etcd.dial_timeout.to_std(),
        std::time::Duration::from_secs(3)
    );
    assert_eq!(kv.etcd.max_retries, 4);
    let c = Config::load(&[]).unwrap();
    assert_eq!(c.ingester.lifecycler.ring.kvstore.store, "inmemory");
}

#[test]
fn a_partly_given_section_keeps_the_single_binary_defaults() {
    let c = Config::load(&args(&["-ring.store=etcd", "-etcd.endpoints=etcd-0:2379"])).unwrap();
    let lc = &c.ingester.lifecycler;
    assert_eq!(lc.ring.kvstore.store, "etcd");
    assert_eq!(lc.address, "127.0.0.1");
    assert_eq!(lc.ring.replication_factor, 1);
    assert!(lc.final_sleep.to_std().is_zero());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.yaml");
    std::fs::write(
        &file,
        "ingester:\n  lifecycler:\n    availability_zone: zone-b\n",
    )
    .unwrap();
    let c = Config::load(&args(&[&format!("-config.file={}", file.display())])).unwrap();
    assert_eq!(c.ingester.lifecycler.availability_zone, "zone-b");
    assert_eq!(c.ingester.lifecycler.address, "127.0.0.1");
    assert_eq!(c.ingester.lifecycler.ring.replication_factor, 1);
}

#[test]
fn gcs_and_azure_buckets_take_cortex_flags_and_yaml() {
    let key =
        r#"{"type":"service_account","client_email":"a@b","private_key":"k","private_key_id":"1"}"#;
    let c = Config::load(&args(&[
        "-blocks-storage.backend=gcs",
        "-blocks-storage.gcs.bucket-name=blocks",
        &format!("-blocks-storage.gcs.service-account={key}"),
    ]))
    .unwrap();
    assert_eq!(c.blocks_storage.backend, "gcs");
    assert_eq!(c.blocks_storage.gcs.bucket_name, "blocks");
    assert_eq!(c.blocks_storage.gcs.service_account, key);

    let c = Config::load(&args(&[
        "-blocks-storage.backend=azure",
        "-blocks-storage.azure.account-name=cortexblocks",
        "-blocks-storage.azure.account-key=c2VjcmV0",
        "-blocks-storage.azure.container-name=blocks",
        "-blocks-storage.azure.endpoint-suffix=blob.core.usgovcloudapi.net",
        "-blocks-storage.azure.max-retries=5",
        "-blocks-storage.azure.user-assigned-id=0000-1",
        "-blocks-storage.azure.http.idle-conn-timeout=30s",
    ]))
    .unwrap();
    let a = &c.blocks_storage.azure;
    assert_eq!(a.account_name, "cortexblocks");
    assert_eq!(a.account_key, "c2VjcmV0");
    assert_eq!(a.container_name, "blocks");
    assert_eq!(a.endpoint_suffix, "blob.core.usgovcloudapi.net");
    assert_eq!(a.max_retries, 5);
    assert_eq!(a.user_assigned_id, "0000-1");
    assert_eq!(a.http.idle_conn_timeout.0.as_secs(), 30);
    // Unset options keep Cortex's defaults.
    assert_eq!(
        Config::load(&[]).unwrap().blocks_storage.azure.max_retries,
        20
    );

    let f = file(
        "blocks_storage:\n  backend: azure\n  azure:\n    account_name: cortexblocks\n    container_name: blocks\n",
    );
    let c = Config::load(&args(&["-config.file", f.path().to_str().unwrap()])).unwrap();
    assert_eq!(c.blocks_storage.azure.container_name, "blocks");
    assert_eq!(c.blocks_storage.azure.max_retries, 20);

    let u = usage();
    for flag in [
        "-blocks-storage.gcs.bucket-name",
        "-blocks-storage.gcs.service-account",
        "-blocks-storage.azure.account-name",
        "-blocks-storage.azure.account-key",
        "-blocks-storage.azure.container-name",
        "-blocks-storage.azure.endpoint-suffix",
        "-blocks-storage.azure.max-retries",
    ] {
        assert!(u.contains(flag), "{flag} missing from usage");
    }
    // What object_store cannot honour is refused, not ignored.
    let e = Config::load(&args(&["-blocks-storage.azure.msi-resource=x"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("azure.msi-resource"), "{e}");
    let f = file("blocks_storage:\n  gcs:\n    bucket_name: b\n    max_retries: 3\n");
    let e = Config::load(&args(&["-config.file", f.path().to_str().unwrap()]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_retries"), "{e}");
    let e = Config::load(&args(&[
        "-blocks-storage.backend=gcs",
        "-blocks-storage.gcs.bucket-name=b",
        "-blocks-storage.gcs.service-account=/var/secrets/key.json",
    ]))
    .unwrap_err()
    .to_string();
    assert!(e.contains("blocks_storage.gcs.service_account"), "{e}");
}

#[test]
fn query_range_options_take_cortex_flag_names() {
    let c = Config::load(&args(&[
        "-querier.split-queries-by-interval=12h",
        "-querier.align-querier-with-step=true",
        "-querier.cache-results=true",
        "-query-range.results-cache.cache.backend=memcached",
        "-query-range.results-cache.cache.memcached.addresses=127.0.0.1:11211",
    ]))
    .unwrap();
    let qr = &c.query_range;
    assert_eq!(
        qr.split_queries_by_interval.to_std(),
        std::time::Duration::from_secs(12 * 3600)
    );
    assert!(qr.align_queries_with_step && qr.cache_results);
    assert_eq!(
        qr.results_cache.cache.backend,
        cortex_core::cache::CacheBackend::Memcached
    );
    // Splitting by day is the default; caching is off.
    let d = Config::default().query_range;
    assert_eq!(
        d.split_queries_by_interval.to_std(),
        std::time::Duration::from_secs(24 * 3600)
    );
    assert!(!d.cache_results);
}

#[test]
fn results_caching_needs_splitting_and_a_backend() {
    let e = Config::load(&args(&[
        "-querier.cache-results=true",
        "-querier.split-queries-by-interval=0",
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("query_range.cache_results"), "{e}");
    let e = Config::load(&args(&[
        "-querier.cache-results=true",
        "-query-range.results-cache.cache.backend=",
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("results_cache.cache.backend"), "{e}");
    let e = Config::load(&args(&[
        "-querier.cache-results=true",
        "-query-range.results-cache.cache.backend=memcached",
    ]))
    .unwrap_err();
    assert!(e.to_string().contains("memcached.addresses"), "{e}");
}
