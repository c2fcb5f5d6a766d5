//! HTTPS to a server whose certificate an internal CA issued (tests/fixtures/tls): refused
//! with the bundled roots alone, accepted once the requester (or `xnonce request --ca-file`)
//! trusts that CA.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use xnonce::{ErrorCode, RequestOptions, Secret};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tls")
        .join(name)
}

/// An HTTPS server on 127.0.0.1 answering every request `200 ok` (one connection per
/// request): its base URL.
fn tls_server() -> String {
    let certs = CertificateDer::pem_file_iter(fixture("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let Ok(conn) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match tls.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return, // a client that refused the certificate
                    }
                }
                let answer = b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok";
                let _ = tls.write_all(answer);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    format!("https://localhost:{port}")
}

fn secret() -> Secret {
    Secret::new("20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd").unwrap()
}

#[test]
fn an_internal_ca_is_trusted_only_when_given() {
    let base = tls_server();
    let get = |api: xnonce::blocking::Requester| {
        api.make_request("GET", vec![], "/status", None, RequestOptions::default())
    };
    let bundled_only = xnonce::blocking::Requester::builder(&base, "svc", secret())
        .build()
        .unwrap();
    let refused = get(bundled_only).unwrap_err();
    assert_eq!(refused.code(), ErrorCode::ConnectionFailed);
    assert!(refused.message().contains("certificate"), "{refused}");

    let ca = std::fs::read(fixture("ca.pem")).unwrap();
    let trusting = xnonce::blocking::Requester::builder(&base, "svc", secret())
        .root_certificates_pem(ca)
        .build()
        .unwrap();
    let res = get(trusting).unwrap();
    assert_eq!((res.code, res.body.as_str()), (200, "ok"));

    // The command: the same, with --ca-file.
    let run = |extra: &[&str]| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_xnonce"));
        cmd.args([
            "request", "--scheme", "v2", "--method", "GET", "--path", "/status",
        ])
        .args(["--client", "svc", "--base-url", &base])
        .args(extra)
        .env("XNONCE_SECRET", secret().expose());
        cmd.output().unwrap()
    };
    let without = run(&[]);
    assert_eq!(without.status.code(), Some(1));
    let ca_file = fixture("ca.pem");
    let with = run(&["--ca-file", ca_file.to_str().unwrap()]);
    assert_eq!(
        with.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert_eq!(with.stdout, b"ok\n");
}

#[test]
fn root_certificates_that_are_not_pem_are_refused_when_building() {
    let built = xnonce::blocking::Requester::builder("https://localhost:1", "svc", secret())
        .root_certificates_pem(b"-----BEGIN CERTIFICATE-----\nnot base64\n".to_vec())
        .build();
    let error = built.unwrap_err();
    assert_eq!(error.code(), ErrorCode::ConnectionFailed);
    assert!(error.message().contains("root certificates"), "{error}");
}
