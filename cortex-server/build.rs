//! Compiles `proto/*.proto` into Rust with a pure-Rust protobuf compiler (no system
//! `protoc` needed): `protox` parses the files into descriptors, `tonic-prost-build`
//! generates the messages and the gRPC service and client code into `OUT_DIR`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["proto/ingester.proto", "proto/storegateway.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
