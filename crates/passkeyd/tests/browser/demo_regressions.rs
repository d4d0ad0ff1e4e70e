//! Regressions of the demo page found by the first Chromium suite: autofill that stayed off for
//! the page's life after three failed requests, a transaction id that read as the
//! excludeCredentials list, an error line that said the same thing twice, and a "three ways to
//! sign in" card that headed only two.

use crate::chrome::{Chrome, Demo};
use crate::harness::Passkeyd;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autofill_comes_back_after_sign_out_and_the_copy_says_each_thing_once() {
    let Some(chrome) = Chrome::launch().await else {
        return;
    };
    let server = Passkeyd::start(5).await;
    let tab = chrome.tab().await;
    // Conditional requests are not held: their failures are what this test is about.
    tab.record_gets(false).await;
    let demo = Demo { tab: &tab };
    demo.open(&server.url("/")).await;

    // Three ways to sign in, three headings; the autofill one says how, as autofill works here.
    let titles = tab
        .eval("Array.from(document.querySelectorAll('#signed-out .way-title'), e => e.textContent)")
        .await;
    assert_eq!(
        titles,
        serde_json::json!(["With a button", "With your username", "Through autofill"])
    );
    tab.wait_visible("#autofill-hint").await;
    assert_eq!(
        tab.eval("document.querySelector('#autofill-unavailable').hidden")
            .await,
        true
    );

    // With no passkey yet, Chromium's virtual environment fails each conditional request at
    // once; after three failures the demo stops asking.
    tab.wait_for(
        "three failed conditional requests",
        "(window.__gets ?? []).filter(g => g.mediation === 'conditional' && \
         g.outcome === 'NotAllowedError').length >= 3",
    )
    .await;
    demo.sign_up("ada").await;

    // The same authenticator again: the friendly text alone, not followed by the SDK's message
    // that says the same.
    tab.click("#add-passkey").await;
    assert_eq!(demo.error_code().await, "already_registered");
    let detail = tab.text("#status .error-detail").await;
    assert_eq!(
        detail.matches("already holds a passkey").count(),
        1,
        "{detail:?}"
    );
    // The ceremony panel names the transaction as such.
    let step = tab
        .eval(
            "Array.from(document.querySelectorAll('#ceremony-log article.ceremony')[0]\
             .querySelectorAll('.step p.explain'), p => p.textContent)\
             .find(t => t.includes('excludeCredentials')) ?? ''",
        )
        .await;
    let step = step.as_str().unwrap();
    assert!(
        step.contains("excludeCredentials). Transaction: txn_"),
        "{step:?}"
    );

    // After a sign-in and a sign-out, the signed-out page asks for autofill again. The
    // authenticator is left untouched so that the request waits, as for a user who has not
    // picked a suggestion yet, rather than signing in at once.
    tab.set_presence(&tab.authenticator, false).await;
    let before = tab
        .eval("window.__gets.filter(g => g.mediation === 'conditional').length")
        .await;
    demo.sign_out().await;
    tab.wait_for(
        "a new conditional request after sign-out",
        &format!(
            "(() => {{ const c = window.__gets.filter(g => g.mediation === 'conditional'); \
             return c.length > {before} && c[c.length - 1].outcome === 'pending'; }})()"
        ),
    )
    .await;
    chrome.close().await;
}
