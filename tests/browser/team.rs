//! Organization → Users: an admin invites a viewer by link; the viewer joins, reads the
//! webhook's page, and cannot reveal its secret.

use crate::browser::Browser;
use crate::scene::{Scene, sign_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_viewer_sees_a_webhook_but_cannot_reveal_its_secret() {
    let Some(scene) = Scene::signed_in("invited_viewer").await else {
        return;
    };
    let webhook = scene
        .app
        .api(&scene.tenant)
        .create_webhook("Ops pager", "https://example.com/hook")
        .await;
    let id = webhook["id"].as_str().unwrap();
    let secret = webhook["secret"].as_str().unwrap();
    let admin = &scene.browser;

    admin.step("Organization, Users, invite a viewer").await;
    admin.click_link("Users").await;
    admin.wait_for_text("h1", "Users").await;
    admin.fill("#email", "viewer@acme.example").await;
    admin.choose("#role", "viewer").await;
    admin.press("Create invitation link").await;
    admin.wait_for_text(".alert", "Invitation created.").await;
    let link = admin.text("#invitation-link").await;
    let path = format!("/invite/{}", link.rsplit('/').next().unwrap());
    admin.wait_for_text("main", "viewer@acme.example").await;

    let Some(viewer) = Browser::open("invited_viewer_joins", &scene.app.address).await else {
        return;
    };
    viewer.step("open the link and choose a password").await;
    viewer.goto(&path).await;
    viewer.wait_for_text("h1", "Join Acme").await;
    viewer.fill("#password", "the viewer's own password").await;
    viewer.fill("#confirm", "the viewer's own password").await;
    viewer.press("Join Acme").await;
    viewer.wait_for_path("/overview").await;
    viewer
        .wait_for_text(".flash", "You joined as viewer.")
        .await;

    viewer.step("the webhook's page offers no Reveal").await;
    viewer.click_link("Webhooks").await;
    viewer.click_link("Ops pager").await;
    viewer.wait_for_text("h1", "Ops pager").await;
    viewer
        .wait_for_text(".secret", "Only admins can reveal the secret.")
        .await;
    let controls = viewer
        .script(
            "return [...document.querySelectorAll('main a, main button')].map(e => e.textContent.trim());",
        )
        .await;
    for refused in [
        "Reveal",
        "Edit",
        "Delete",
        "Disable",
        "Regenerate secret",
        "Send test event",
    ] {
        assert!(
            !controls
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c.as_str() == Some(refused)),
            "{refused} is offered to a viewer: {controls}"
        );
    }

    viewer.step("the reveal address is refused").await;
    viewer.goto(&format!("/webhooks/{id}?reveal=1")).await;
    viewer.wait_for_text("h1", "Request refused").await;
    viewer
        .wait_for_text("main", "Your role in this organization is viewer")
        .await;
    let html = viewer
        .script("return document.documentElement.outerHTML;")
        .await;
    assert!(!html.as_str().unwrap().contains(secret));

    viewer
        .step("the viewer signs in again with their password")
        .await;
    viewer.press("Sign out").await;
    sign_in(&viewer, "viewer@acme.example", "the viewer's own password").await;
}
