//! Organization → Users: invitations by one-time link, roles enforced on every route, removing
//! a user, changing a password.

use biotz::domain::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Browser, PASSWORD, Page, TestApp, text_after, unescape_html};

const NEW_PASSWORD: &str = "a much longer new password";

/// The invitation link shown once on the Users page after an invite.
async fn invite(admin: &Browser<'_>, email: &str, role: &str) -> String {
    let answer = admin
        .submit(
            "/settings/users",
            "/settings/users",
            &[("email", email), ("role", role)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.html);
    let shown = answer.location.unwrap();
    assert!(shown.starts_with("/settings/users?once="), "{shown}");
    let page = admin.get(&shown).await;
    let link = text_after(&page.html, r#"<code id="invitation-link">"#)
        .expect("the new link is shown")
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        admin
            .get(&shown)
            .await
            .html
            .find("invitation-link")
            .is_none(),
        "the link is shown once"
    );
    link
}

/// The path of an invitation link (`/invite/…`), which tests open on the server under test.
fn path_of(link: &str) -> String {
    format!("/invite/{}", link.rsplit('/').next().unwrap())
}

async fn accept(browser: &Browser<'_>, path: &str, password: &str, confirm: &str) -> Page {
    let form = browser.get(path).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.html);
    browser
        .post_form(
            path,
            &[
                ("_csrf", &form.csrf()),
                ("password", password),
                ("confirm", confirm),
            ],
        )
        .await
}

fn id_after(html: &str, prefix: &str) -> String {
    let at = html
        .find(prefix)
        .unwrap_or_else(|| panic!("no {prefix} in page"));
    html[at + prefix.len()..]
        .split(['/', '"'])
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_admin_invites_a_viewer_who_joins_through_the_link_once() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let admin = app.browser(&acme).await;
    let link = invite(&admin, "Viewer@Example.com", "viewer").await;
    assert!(link.starts_with("http"), "an absolute link to copy: {link}");
    let path = path_of(&link);

    let listed = admin.get("/settings/users").await;
    assert!(listed.html.contains("Open invitations"));
    assert!(listed.html.contains("viewer@example.com"));

    let guest = app.new_browser();
    let form = guest.get(&path).await;
    let text = unescape_html(&form.html);
    assert!(text.contains("Join Acme"), "{text}");
    assert!(text.contains("viewer"));
    assert!(text.contains("viewer@example.com"));

    let mismatch = accept(&guest, &path, PASSWORD, "something else entirely").await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.html.contains(r#"id="confirm-error""#));
    let short = accept(&guest, &path, "short", "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.html.contains("at least 10 characters"));

    let joined = accept(&guest, &path, PASSWORD, PASSWORD).await;
    assert_eq!(joined.status, StatusCode::SEE_OTHER, "{}", joined.html);
    assert_eq!(joined.location.as_deref(), Some("/overview"));
    let overview = guest.get("/overview").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(
        overview
            .html
            .contains("Welcome to Acme! You joined as viewer.")
    );
    assert!(overview.html.contains("Acme · viewer"));

    // The link worked once; the invitation is gone from the list.
    let again = app.new_browser().get(&path).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(again.html.contains("used already"));
    let listed = admin.get("/settings/users").await;
    assert!(!listed.html.contains("Open invitations"));
    assert!(listed.html.contains("viewer@example.com"));

    let signed_in = app.new_browser();
    let answer = signed_in.sign_in("viewer@example.com", PASSWORD).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn invitations_refuse_bad_input_and_a_revoked_link_stops_working() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    app.tenant("Other").await;
    let admin = app.browser(&acme).await;

    let bad = admin
        .submit(
            "/settings/users",
            "/settings/users",
            &[("email", "not an email"), ("role", "owner")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.html.contains(r#"id="email-error""#));
    assert!(unescape_html(&bad.html).contains("Choose the role admin or viewer (got 'owner')"));
    assert!(
        bad.html.contains(r#"value="not an email""#),
        "what was typed stays"
    );

    // Emails belong to one organization: one with an account anywhere cannot be invited.
    let taken = admin
        .submit(
            "/settings/users",
            "/settings/users",
            &[("email", "admin@other.example"), ("role", "viewer")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert!(taken.html.contains("already has an account"));

    let link = invite(&admin, "ada@example.com", "admin").await;
    let twice = admin
        .submit(
            "/settings/users",
            "/settings/users",
            &[("email", "ada@example.com"), ("role", "viewer")],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.html.contains("still open"));

    let users = admin.get("/settings/users").await;
    let invitation = id_after(&users.html, "/settings/invitations/");
    let revoked = admin
        .post_with_csrf(&format!("/settings/invitations/{invitation}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let gone = app.new_browser().get(&path_of(&link)).await;
    assert_eq!(gone.status, StatusCode::BAD_REQUEST);
    assert!(gone.html.contains("revoked"));
    let unknown = app.new_browser().get("/invite/not-a-token").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
}

/// Every page form of the product, posted by a viewer: each is refused with 403 and changes
/// nothing.
#[tokio::test]
async fn a_viewer_sees_every_page_but_changes_nothing_and_reveals_no_secret() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let api = app.api(&acme);
    let webhook = api.create_webhook("Ops", "https://example.com/hook").await;
    let webhook_id = webhook["id"].as_str().unwrap();
    let secret = webhook["secret"].as_str().unwrap();
    let device_type = api.create_freezer_type("Freezer").await;
    let type_id = device_type["id"].as_str().unwrap();
    let (device_id, _) = api.create_device("Freezer 1", &device_type).await;
    let trigger = api
        .create_trigger(
            &device_type,
            "Too warm",
            json!({"field": "/temperature", "op": ">", "value": 8}),
            &[&webhook],
        )
        .await;
    let trigger_id = trigger["id"].as_str().unwrap();
    let tokens = api.get("/api/v1/tokens").await;
    let token_id = tokens.body["data"][0]["id"].as_str().unwrap().to_owned();
    let viewer = app
        .member("Acme", "viewer@acme.example", Role::Viewer)
        .await;

    for path in [
        "/overview".to_owned(),
        "/webhooks".to_owned(),
        format!("/webhooks/{webhook_id}"),
        "/device-types".to_owned(),
        format!("/device-types/{type_id}"),
        "/devices".to_owned(),
        format!("/devices/{device_id}"),
        "/alarm-triggers".to_owned(),
        format!("/alarm-triggers/{trigger_id}"),
        "/alarms".to_owned(),
        "/events".to_owned(),
        "/deliveries".to_owned(),
        "/tokens".to_owned(),
        "/settings".to_owned(),
        "/settings/users".to_owned(),
        "/account/password".to_owned(),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.html);
        assert!(!page.html.contains(secret), "{path} shows the secret");
        assert!(!page.html.contains("?reveal=1"), "{path} offers Reveal");
        assert!(
            !page.html.contains("button danger"),
            "{path} shows a button that deletes"
        );
    }
    let webhook_page = viewer.get(&format!("/webhooks/{webhook_id}")).await;
    assert!(
        webhook_page
            .html
            .contains("Only admins can reveal the secret.")
    );
    assert!(!webhook_page.html.contains("Regenerate secret</button>"));

    // Pages that reveal a secret or only lead to a change.
    for path in [
        format!("/webhooks/{webhook_id}?reveal=1"),
        format!("/webhooks/{webhook_id}?created=1"),
        "/webhooks/new".to_owned(),
        format!("/webhooks/{webhook_id}/edit"),
        format!("/webhooks/{webhook_id}/disable"),
        format!("/webhooks/{webhook_id}/delete"),
        "/device-types/new".to_owned(),
        format!("/device-types/{type_id}/edit"),
        format!("/device-types/{type_id}/delete"),
        "/devices/new".to_owned(),
        format!("/devices/{device_id}/edit"),
        format!("/devices/{device_id}/delete"),
        format!("/device-types/{type_id}/alarm-triggers/new"),
        format!("/alarm-triggers/{trigger_id}/edit"),
        format!("/alarm-triggers/{trigger_id}/webhooks"),
        format!("/alarm-triggers/{trigger_id}/delete"),
    ] {
        let page = viewer.get(&path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            page.html
                .contains("Your role in this organization is viewer")
        );
        assert!(!page.html.contains(secret), "{path} shows the secret");
    }

    let admin_users = app.browser(&acme).await.get("/settings/users").await;
    let admin_id = format!(
        "usr_{}",
        id_after(&admin_users.html, "/settings/users/usr_")
    );
    for (path, fields) in [
        (
            "/webhooks".to_owned(),
            vec![("name", "x"), ("url", "https://example.com/x")],
        ),
        (
            format!("/webhooks/{webhook_id}/edit"),
            vec![("name", "x"), ("url", "https://example.com/x")],
        ),
        (format!("/webhooks/{webhook_id}/enable"), vec![]),
        (format!("/webhooks/{webhook_id}/disable"), vec![]),
        (
            format!("/webhooks/{webhook_id}/secret/regenerate"),
            vec![("keep_previous_for_seconds", "0")],
        ),
        (format!("/webhooks/{webhook_id}/delete"), vec![]),
        (format!("/webhooks/{webhook_id}/test"), vec![]),
        (
            format!("/webhooks/{webhook_id}/replay"),
            vec![("since", "2026-01-01T00:00")],
        ),
        ("/device-types".to_owned(), vec![("name", "x")]),
        (format!("/device-types/{type_id}/edit"), vec![("name", "x")]),
        (format!("/device-types/{type_id}/delete"), vec![]),
        (
            "/devices".to_owned(),
            vec![("name", "x"), ("device_type_id", type_id)],
        ),
        (format!("/devices/{device_id}/edit"), vec![("name", "x")]),
        (format!("/devices/{device_id}/token/regenerate"), vec![]),
        (format!("/devices/{device_id}/delete"), vec![]),
        (
            format!("/device-types/{type_id}/alarm-triggers"),
            vec![("name", "x")],
        ),
        (
            format!("/alarm-triggers/{trigger_id}/edit"),
            vec![("name", "x")],
        ),
        (format!("/alarm-triggers/{trigger_id}/webhooks"), vec![]),
        (format!("/alarm-triggers/{trigger_id}/test"), vec![]),
        (format!("/alarm-triggers/{trigger_id}/delete"), vec![]),
        ("/tokens".to_owned(), vec![("name", "mine")]),
        (format!("/tokens/{token_id}/delete"), vec![]),
        ("/settings".to_owned(), vec![("retain", "1d")]),
        (
            "/settings/users".to_owned(),
            vec![("email", "friend@example.com"), ("role", "admin")],
        ),
        (
            format!("/settings/users/{admin_id}/role"),
            vec![("role", "viewer")],
        ),
        (format!("/settings/users/{admin_id}/remove"), vec![]),
    ] {
        let answer = viewer.post_with_csrf(&path, &fields).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "POST {path}: {}",
            answer.html
        );
        assert!(
            answer
                .html
                .contains("Your role in this organization is viewer")
        );
    }

    // The JSON API with the viewer's session: reads work, the secret and every change do not.
    assert_eq!(
        viewer
            .api_call(Method::GET, "/api/v1/webhooks", None)
            .await
            .status,
        StatusCode::OK
    );
    let revealed = viewer
        .api_call(
            Method::GET,
            &format!("/api/v1/webhooks/{webhook_id}/secret"),
            None,
        )
        .await;
    assert_eq!(revealed.status, StatusCode::FORBIDDEN);
    assert_eq!(revealed.body["error"]["code"], "forbidden");
    assert!(!revealed.body.to_string().contains(secret));
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/webhooks".to_owned(),
            Some(json!({"name": "x", "url": "https://example.com/x"})),
        ),
        (
            Method::PATCH,
            format!("/api/v1/webhooks/{webhook_id}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/webhooks/{webhook_id}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{webhook_id}/secret/regenerate"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{webhook_id}/test"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/webhooks/{webhook_id}/replay"),
            Some(json!({"since": "2026-01-01T00:00:00Z"})),
        ),
        (
            Method::POST,
            format!("/api/v1/devices/{device_id}/token/regenerate"),
            None,
        ),
        (
            Method::DELETE,
            format!("/api/v1/alarm-triggers/{trigger_id}"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/alarm-triggers/{trigger_id}/webhooks"),
            Some(json!({"webhook_ids": []})),
        ),
        (
            Method::POST,
            "/api/v1/tokens".to_owned(),
            Some(json!({"name": "mine"})),
        ),
        (Method::DELETE, format!("/api/v1/tokens/{token_id}"), None),
    ] {
        let answer = viewer.api_call(method.clone(), &path, body).await;
        assert_eq!(
            answer.status,
            StatusCode::FORBIDDEN,
            "{method} {path}: {}",
            answer.body
        );
        assert_eq!(answer.body["error"]["code"], "forbidden");
        assert!(
            !answer.body.to_string().contains("biotz_"),
            "no token in {}",
            answer.body
        );
    }

    // Nothing changed.
    let still = api.get(&format!("/api/v1/webhooks/{webhook_id}")).await;
    assert_eq!(still.body["name"], "Ops");
    assert_eq!(
        api.get(&format!("/api/v1/webhooks/{webhook_id}/secret"))
            .await
            .body["secret"],
        secret
    );
    assert_eq!(
        api.get("/api/v1/tokens").await.body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let trigger_now = api
        .get(&format!("/api/v1/alarm-triggers/{trigger_id}"))
        .await;
    assert_eq!(trigger_now.status, StatusCode::OK);
    assert_eq!(trigger_now.body["webhooks"][0]["id"], webhook_id);
    assert_eq!(trigger_now.body["name"], "Too warm");
}

#[tokio::test]
async fn an_organization_keeps_an_admin_and_a_removed_user_is_signed_out() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let admin = app.browser(&acme).await;
    let colleague = app
        .member("Acme", "colleague@acme.example", Role::Viewer)
        .await;
    let users = admin.get("/settings/users").await;
    assert!(users.html.contains("colleague@acme.example"));
    // Oldest first: the admin's row, then the colleague's.
    let my_id = format!("usr_{}", id_after(&users.html, "/settings/users/usr_"));
    let their_id = {
        let after = users.html.split("colleague@acme.example").nth(1).unwrap();
        format!("usr_{}", id_after(after, "/settings/users/usr_"))
    };
    assert_ne!(my_id, their_id);

    // The only admin can neither step down nor remove themselves.
    let step_down = admin
        .post_with_csrf(
            &format!("/settings/users/{my_id}/role"),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(step_down.status, StatusCode::CONFLICT);
    assert!(step_down.html.contains("at least one admin"));
    let remove_me = admin
        .post_with_csrf(&format!("/settings/users/{my_id}/remove"), &[])
        .await;
    assert_eq!(remove_me.status, StatusCode::CONFLICT);
    let bad_role = admin
        .post_with_csrf(
            &format!("/settings/users/{their_id}/role"),
            &[("role", "root")],
        )
        .await;
    assert_eq!(bad_role.status, StatusCode::UNPROCESSABLE_ENTITY);

    // A second admin lets the first step down; the change applies to the next request.
    let promoted = admin
        .post_with_csrf(
            &format!("/settings/users/{their_id}/role"),
            &[("role", "admin")],
        )
        .await;
    assert_eq!(promoted.status, StatusCode::SEE_OTHER);
    assert_eq!(colleague.get("/webhooks/new").await.status, StatusCode::OK);
    let stepped_down = admin
        .post_with_csrf(
            &format!("/settings/users/{my_id}/role"),
            &[("role", "viewer")],
        )
        .await;
    assert_eq!(stepped_down.status, StatusCode::SEE_OTHER);
    assert_eq!(
        admin.get("/webhooks/new").await.status,
        StatusCode::FORBIDDEN
    );

    // The colleague, now the admin, removes the first user: their session ends at once.
    let removed = colleague
        .post_with_csrf(&format!("/settings/users/{my_id}/remove"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER, "{}", removed.html);
    let after = admin.get("/overview").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
    assert!(after.location.unwrap().starts_with("/login"));
    let again = app.new_browser().sign_in(&acme.email, PASSWORD).await;
    assert_eq!(
        again.status,
        StatusCode::UNAUTHORIZED,
        "a removed user cannot sign in"
    );
    let left = colleague.get("/settings/users").await;
    assert!(!left.html.contains(&acme.email));
}

#[tokio::test]
async fn another_organizations_users_and_invitations_answer_404() {
    let app = TestApp::spawn().await;
    let acme = app.tenant("Acme").await;
    let intruder = app.tenant("Intruder").await;
    let acme_admin = app.browser(&acme).await;
    app.member("Acme", "viewer@acme.example", Role::Viewer)
        .await;
    invite(&acme_admin, "invited@acme.example", "viewer").await;
    let acme_users = acme_admin.get("/settings/users").await;
    let user_id = format!(
        "usr_{}",
        id_after(
            acme_users.html.split("viewer@acme.example").nth(1).unwrap(),
            "/settings/users/usr_"
        )
    );
    let invitation_id = id_after(&acme_users.html, "/settings/invitations/");

    let other = app.browser(&intruder).await;
    let listed = other.get("/settings/users").await;
    assert!(!listed.html.contains("acme.example"));
    for (path, fields) in [
        (
            format!("/settings/users/{user_id}/role"),
            vec![("role", "admin")],
        ),
        (format!("/settings/users/{user_id}/remove"), vec![]),
        (
            format!("/settings/invitations/{invitation_id}/revoke"),
            vec![],
        ),
    ] {
        let answer = other.post_with_csrf(&path, &fields).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
    }
    let kept = acme_admin.get("/settings/users").await;
    assert!(kept.html.contains("viewer@acme.example"));
    assert!(kept.html.contains("invited@acme.example"));
    assert_eq!(
        selected_role(&kept.html, "viewer@acme.example"),
        "viewer",
        "the role is unchanged"
    );
}

/// The role selected in the row of `email` on the Users page.
fn selected_role(html: &str, email: &str) -> String {
    let (_, row) = html.split_once(email).unwrap();
    row.split("\" selected>")
        .next()
        .unwrap()
        .rsplit("value=\"")
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_user_changes_their_own_password_and_other_sessions_end() {
    let app = TestApp::spawn().await;
    app.tenant("Acme").await;
    let viewer = app
        .member("Acme", "viewer@acme.example", Role::Viewer)
        .await;
    let elsewhere = app.new_browser();
    elsewhere.sign_in("viewer@acme.example", PASSWORD).await;
    assert_eq!(elsewhere.get("/overview").await.status, StatusCode::OK);

    let change = |current: &'static str, password: &'static str, confirm: &'static str| {
        let viewer = &viewer;
        async move {
            viewer
                .submit(
                    "/account/password",
                    "/account/password",
                    &[
                        ("current", current),
                        ("password", password),
                        ("confirm", confirm),
                    ],
                )
                .await
        }
    };
    let wrong = change("not my password", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.html.contains(r#"id="current-error""#));
    let short = change(PASSWORD, "short", "short").await;
    assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(short.html.contains(r#"id="password-error""#));
    let differ = change(PASSWORD, NEW_PASSWORD, "something different").await;
    assert_eq!(differ.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(differ.html.contains(r#"id="confirm-error""#));
    assert_eq!(
        app.new_browser()
            .sign_in("viewer@acme.example", PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER,
        "a refused change keeps the old password"
    );

    let changed = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.html);
    assert_eq!(
        viewer.get("/overview").await.status,
        StatusCode::OK,
        "this session stays"
    );
    assert_eq!(
        elsewhere.get("/overview").await.status,
        StatusCode::SEE_OTHER,
        "others end"
    );
    assert_eq!(
        app.new_browser()
            .sign_in("viewer@acme.example", PASSWORD)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.new_browser()
            .sign_in("viewer@acme.example", NEW_PASSWORD)
            .await
            .status,
        StatusCode::SEE_OTHER
    );
}
