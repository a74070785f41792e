//! A client that writes its whole (too large) body before reading still gets the answer: the
//! server reads and discards the rest instead of closing while it arrives.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::TestApp;

/// Writes the request head and all of `body_len` bytes, then reads the whole answer.
async fn write_all_then_read(app: &TestApp, path: &str, token: &str, body_len: usize) -> String {
    let address = app.url("");
    let address = address.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {body_len}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    while sent < body_len {
        let n = chunk.len().min(body_len - sent);
        stream
            .write_all(&chunk[..n])
            .await
            .unwrap_or_else(|e| panic!("the server stopped reading after {sent} bytes: {e}"));
        sent += n;
    }
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .expect("the answer arrives after the whole body");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn an_8_mib_body_written_before_reading_gets_the_413() {
    let app = TestApp::without_dispatcher().await;
    let acme = app.tenant("Acme").await;
    let answer = write_all_then_read(&app, "/api/v1/webhooks", &acme.token, 8 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    let api = app.api(&acme);
    let freezer = api.create_freezer_type("Freezer").await;
    let (_, device_token) = api.create_device("Freezer 7", &freezer).await;
    let answer = write_all_then_read(&app, "/api/v1/ingest", &device_token, 8 << 20).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let answer = write_all_then_read(&app, "/api/v1/ingest", "bdt_wrong", 8 << 20).await;
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "a refusal before the body is read arrives too: {answer}"
    );
}
