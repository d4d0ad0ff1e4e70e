//! Screenshots of the demo, kept in `target/e2e-artifacts/` for people to look at: signed out,
//! signed in with passkeys listed, the ceremony panel, and an error, each on a desktop
//! (1280×900) and a phone (375×812). Horizontal overflow is reported on stderr, not failed on:
//! the look of the page is for a person to judge.

use crate::chrome::{Chrome, Demo, Tab};
use crate::harness::{artifacts_dir, Passkeyd};

/// Desktop and phone viewports.
const SIZES: [(i64, i64); 2] = [(1280, 900), (375, 812)];

/// Takes one screenshot per size; `what` is the element to shoot, or `None` for the page
/// (`whole` page or viewport).
async fn shoot(tab: &Tab, name: &str, what: Option<&str>, whole: bool) {
    let dir = artifacts_dir();
    for (width, height) in SIZES {
        tab.set_viewport(width, height).await;
        let overflow = tab
            .eval("document.documentElement.scrollWidth - window.innerWidth")
            .await;
        if overflow.as_f64().is_some_and(|o| o > 0.0) {
            eprintln!(
                "LAYOUT: {name} at {width}x{height} is {overflow} px wider than the viewport"
            );
        }
        let path = dir.join(format!("demo-{name}-{width}x{height}.png"));
        match what {
            Some(selector) => tab.screenshot_of(&path, selector).await,
            None => tab.screenshot(&path, whole).await,
        }
        eprintln!("screenshot: {}", path.display());
    }
    // Interactions run at the desktop size.
    tab.set_viewport(SIZES[0].0, SIZES[0].1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots_of_the_demo() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let server = Passkeyd::start(5).await;
    let tab = chrome.tab().await;
    tab.record_gets(true).await;
    let demo = Demo { tab: &tab };
    tab.set_viewport(SIZES[0].0, SIZES[0].1).await;
    demo.open(&server.url("/")).await;
    shoot(&tab, "signed-out", None, true).await;

    // Signed in with two passkeys from two devices, one named at creation.
    demo.sign_up("ada@example.com").await;
    tab.remove_authenticator(&tab.authenticator).await;
    tab.add_authenticator().await;
    tab.fill("#add-passkey-name", "Work laptop").await;
    tab.click("#add-passkey").await;
    demo.wait_passkey_count(2).await;
    tab.wait_for(
        "the success message",
        "document.querySelector('#status').dataset.kind === 'success'",
    )
    .await;
    shoot(&tab, "signed-in", None, true).await;
    shoot(&tab, "ceremony-panel", Some("#ceremony-panel"), true).await;

    // An error as the page shows it: the same device again (excludeCredentials).
    tab.click("#add-passkey").await;
    assert_eq!(demo.error_code().await, "already_registered");
    shoot(&tab, "error", None, false).await;
    chrome.close().await;
}
