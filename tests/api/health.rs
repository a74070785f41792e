use reqwest::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_and_readyz_answer() {
    let app = TestApp::spawn().await;
    let healthz = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(healthz.status(), StatusCode::OK);
    let readyz = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(readyz.status(), StatusCode::OK);
    assert_eq!(readyz.text().await.unwrap(), "ready\n");
}

#[tokio::test]
async fn readyz_fails_when_the_database_is_gone() {
    let app = TestApp::spawn().await;
    app.store.close().await;
    let readyz = reqwest::get(app.url("/readyz")).await.unwrap();
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn metrics_answer_with_the_counters_while_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let up = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(up.status(), StatusCode::OK);
    let up = up.text().await.unwrap();
    assert!(up.contains("biotz_database_up 1"), "{up}");
    assert!(up.contains("biotz_deliveries_pending 0"), "{up}");

    app.store.close().await;
    let started = std::time::Instant::now();
    let down = reqwest::get(app.url("/metrics")).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(down.status(), StatusCode::OK);
    let down = down.text().await.unwrap();
    assert!(down.contains("biotz_database_up 0"), "{down}");
    assert!(
        down.contains("biotz_delivery_attempts_total{outcome=\"succeeded\"} 0"),
        "{down}"
    );
    assert!(down.contains("biotz_delivery_attempt_duration_seconds_count 0"));
    assert!(!down.contains("biotz_deliveries_pending"), "{down}");
    assert!(!down.contains("biotz_oldest_pending_delivery_age_seconds"));
}

#[tokio::test]
async fn unknown_paths_get_404_as_json_under_the_api_and_as_a_page_elsewhere() {
    let app = TestApp::spawn().await;
    let api = reqwest::get(app.url("/api/v1/nothing-here")).await.unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let page = reqwest::get(app.url("/nothing-here")).await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn static_assets_are_embedded_and_cached() {
    let app = TestApp::spawn().await;
    let tenant = app.tenant("Assets").await;
    let browser = app.browser(&tenant).await;
    let page = browser.get("/webhooks").await;
    let start = page.html.find("/static/").unwrap();
    let href = &page.html[start..page.html[start..].find('"').unwrap() + start];
    assert!(href.ends_with(".css") || href.ends_with(".svg"), "{href}");
    let asset = reqwest::get(app.url(href)).await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
}

#[tokio::test]
async fn a_postgresql_server_on_this_machine_is_reached_through_its_unix_socket() {
    let app = TestApp::spawn().await;
    let url = app.database.url().to_owned();
    let transport = app.store.transport().await.unwrap();
    if !url.starts_with("postgres") {
        assert_eq!(transport, "file");
        return;
    }
    let host = url::Url::parse(&url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned();
    let port = url::Url::parse(&url).unwrap().port().unwrap_or(5432);
    let socket_exists = ["/run/postgresql", "/var/run/postgresql", "/tmp"]
        .iter()
        .any(|dir| {
            std::path::Path::new(dir)
                .join(format!(".s.PGSQL.{port}"))
                .exists()
        });
    let local = host == "127.0.0.1" || host == "localhost" || host == "[::1]";
    let expected = if local && socket_exists && !url.contains("sslmode") {
        "unix socket"
    } else {
        "tcp"
    };
    assert_eq!(transport, expected, "{url}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers_and_large_ones_are_compressed() {
    use std::io::Read;

    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let login = client.get(app.url("/login")).send().await.unwrap();
    let api = client
        .get(app.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    for response in [&login, &api] {
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["referrer-policy"], "same-origin");
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("frame-ancestors 'none'")
        );
        assert_eq!(headers["cache-control"], "no-store");
    }
    let page = login.text().await.unwrap();
    let stylesheet = page
        .split("href=\"")
        .find(|part| part.starts_with("/static/") && part.contains(".css"))
        .and_then(|part| part.split('"').next())
        .expect("the page links its stylesheet")
        .to_owned();
    let asset = client.get(app.url(&stylesheet)).send().await.unwrap();
    assert_ne!(
        asset.headers()["cache-control"],
        "no-store",
        "assets keep their own caching"
    );
    assert_eq!(asset.headers()["x-content-type-options"], "nosniff");

    let plain = client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    let gzipped = client
        .get(app.url("/api/v1/openapi.json"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let compressed = gzipped.bytes().await.unwrap();
    assert!(
        compressed.len() * 4 < plain.len(),
        "{} of {}",
        compressed.len(),
        plain.len()
    );
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain);

    let small = client
        .get(app.url("/healthz"))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert!(
        small.headers().get("content-encoding").is_none(),
        "a small answer is sent as it is"
    );
}
