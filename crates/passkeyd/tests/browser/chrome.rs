//! The browser side of a test: Debian's Chromium in new headless mode with a fresh profile,
//! driven by chromiumoxide, and tabs that each carry a CDP virtual authenticator (CTAP2,
//! internal transport, resident keys, user verification, automatic presence). Helpers wait for
//! conditions by polling, never by sleeping, and know the demo page's stable ids.

use crate::harness::{random_name, require, POLL, WAIT};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::network::{
    Cookie, CookieSameSite, GetCookiesParams, SetCookieParams,
};
use chromiumoxide::cdp::browser_protocol::page::{
    CaptureScreenshotFormat, CaptureScreenshotParams, Viewport,
};
use chromiumoxide::cdp::browser_protocol::web_authn::{
    AddVirtualAuthenticatorParams, AuthenticatorId, AuthenticatorProtocol, AuthenticatorTransport,
    Credential, EnableParams, GetCredentialsParams, RemoveVirtualAuthenticatorParams,
    SetAutomaticPresenceSimulationParams, VirtualAuthenticatorOptions,
};
use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::{Browser, BrowserConfig, Page};
use futures_util::StreamExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Debian's Chromium; the tests never download a browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The flags every test browser runs with. chromiumoxide's own defaults are switched off so
/// that this list is the whole command line (besides the DevTools port and the profile, which
/// chromiumoxide adds, and `--disable-extensions`).
const FLAGS: &[&str] = &[
    "headless=new",
    "no-sandbox",
    "disable-gpu",
    "disable-dev-shm-usage",
    "disable-quic",
    "no-first-run",
    "disable-background-networking",
    "disable-component-update",
    "disable-sync",
    "window-size=1280,900",
];

/// A running Chromium with a profile of its own.
pub struct Chrome {
    browser: Browser,
    handler: JoinHandle<()>,
    profile: PathBuf,
}

impl Chrome {
    /// Starts Chromium, or returns `None` after printing `SKIPPED` when it is not installed
    /// (in CI that fails the test instead).
    pub async fn launch() -> Option<Chrome> {
        if !require(
            "Chromium",
            Path::new(CHROMIUM).exists(),
            "chromium not installed",
        ) {
            return None;
        }
        let profile = std::env::temp_dir().join(random_name("passkeyd-e2e-chromium-"));
        std::fs::create_dir_all(&profile).unwrap();
        let config = BrowserConfig::builder()
            .chrome_executable(CHROMIUM)
            .disable_default_args()
            // Headless is among FLAGS (`--headless=new`); chromiumoxide's headless modes would
            // add flags of their own.
            .with_head()
            .no_sandbox()
            .viewport(None)
            .user_data_dir(&profile)
            .args(FLAGS.iter().copied())
            .launch_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let (browser, mut handler) = Browser::launch(config)
            .await
            .unwrap_or_else(|e| panic!("Chromium ({CHROMIUM}) did not start: {e}"));
        // The handler drives the DevTools connection; it must be polled for as long as the
        // browser is used. It ends when the connection does.
        let handler = tokio::spawn(async move {
            while let Some(event) = handler.next().await {
                if let Err(e) = event {
                    eprintln!("chromiumoxide handler: {e}");
                    break;
                }
            }
        });
        Some(Chrome {
            browser,
            handler,
            profile,
        })
    }

    /// A new tab with WebAuthn emulation on and one virtual authenticator.
    pub async fn tab(&self) -> Tab {
        let page = self.browser.new_page("about:blank").await.unwrap();
        page.execute(EnableParams::default()).await.unwrap();
        let authenticator = add_authenticator(&page).await;
        Tab {
            page,
            authenticator,
        }
    }

    /// Closes the browser, waits for it to exit and removes its profile.
    pub async fn close(mut self) {
        self.browser.close().await.ok();
        self.browser.wait().await.ok();
        // A helper process may still flush the disk cache's index into the profile just after
        // the browser exits, bringing part of it back: remove it once more a moment later.
        std::fs::remove_dir_all(&self.profile).ok();
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        // After a failed test the browser is still running here; chromiumoxide kills it when
        // the Browser is dropped, right after this. The profile is removed as well as it can be.
        self.handler.abort();
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

/// Adds a virtual authenticator to a tab: CTAP2 over the internal (platform) transport, with
/// resident keys, user verification that succeeds, and a simulated touch.
async fn add_authenticator(page: &Page) -> AuthenticatorId {
    let options = VirtualAuthenticatorOptions::builder()
        .protocol(AuthenticatorProtocol::Ctap2)
        .transport(AuthenticatorTransport::Internal)
        .has_resident_key(true)
        .has_user_verification(true)
        .is_user_verified(true)
        .automatic_presence_simulation(true)
        .build()
        .unwrap();
    page.execute(AddVirtualAuthenticatorParams::new(options))
        .await
        .unwrap()
        .result
        .authenticator_id
        .clone()
}

/// One tab of the test browser.
pub struct Tab {
    pub page: Page,
    /// The virtual authenticator the tab started with.
    pub authenticator: AuthenticatorId,
}

/// A JavaScript string literal for `text`.
pub fn js_str(text: &str) -> String {
    serde_json::to_string(text).unwrap()
}

impl Tab {
    /// Adds another virtual authenticator (a passkey device of its own); Chromium uses the
    /// authenticators it has, so tests remove the others to pick one.
    pub async fn add_authenticator(&self) -> AuthenticatorId {
        add_authenticator(&self.page).await
    }

    /// Removes a virtual authenticator, with the passkeys it holds.
    pub async fn remove_authenticator(&self, id: &AuthenticatorId) {
        self.page
            .execute(RemoveVirtualAuthenticatorParams::new(id.clone()))
            .await
            .unwrap();
    }

    /// Turns the simulated touch of a virtual authenticator on or off. Off, a request that
    /// needs user presence waits (it does not fail): the authenticator is there, untouched.
    pub async fn set_presence(&self, id: &AuthenticatorId, on: bool) {
        self.page
            .execute(SetAutomaticPresenceSimulationParams::new(id.clone(), on))
            .await
            .unwrap();
    }

    /// The passkeys a virtual authenticator holds.
    pub async fn credentials(&self, id: &AuthenticatorId) -> Vec<Credential> {
        self.page
            .execute(GetCredentialsParams::new(id.clone()))
            .await
            .unwrap()
            .result
            .credentials
            .clone()
    }

    /// The base64url ids of the passkeys a virtual authenticator holds (CDP gives standard
    /// base64; WebAuthn's JSON and passkeyd use base64url).
    pub async fn credential_ids(&self, id: &AuthenticatorId) -> Vec<String> {
        self.credentials(id)
            .await
            .iter()
            .map(|c| {
                passkeyd_core::b64::encode(
                    &passkeyd_core::b64::decode(c.credential_id.as_ref()).unwrap(),
                )
            })
            .collect()
    }

    /// Records every `navigator.credentials.get()` of the pages this tab loads from now on in
    /// `window.__gets` (`{mediation, outcome, aborted}`, the outcome `pending`, `credential`
    /// or the error's name; `aborted` when the page aborted the request's signal).
    ///
    /// With `hold`, conditional requests never reach Chromium and wait until they are aborted.
    /// Chromium's virtual authenticator environment never leaves a conditional request pending
    /// as a browser does for a user who has not picked a suggestion: it completes it at once
    /// with the first passkey it has, without autofill or focus, and fails it at once
    /// (NotAllowedError) when it has none. Tests of the other ways to sign in hold them, as if
    /// the user ignored the autofill suggestions.
    pub async fn record_gets(&self, hold: bool) {
        let script = format!(
            r#"(() => {{
                const hold = {hold};
                const credentials = navigator.credentials;
                if (!credentials) return;
                const original = credentials.get.bind(credentials);
                window.__gets = [];
                credentials.get = function (options) {{
                    const entry = {{ mediation: options?.mediation ?? null, outcome: "pending", aborted: false }};
                    window.__gets.push(entry);
                    options?.signal?.addEventListener("abort", () => {{ entry.aborted = true; }}, {{ once: true }});
                    let promise;
                    if (hold && options?.mediation === "conditional") {{
                        promise = new Promise((resolve, reject) => {{
                            const signal = options.signal;
                            const abort = () => reject(signal.reason ?? new DOMException("aborted", "AbortError"));
                            if (signal?.aborted) abort();
                            else signal?.addEventListener("abort", abort, {{ once: true }});
                        }});
                    }} else {{
                        promise = original(options);
                    }}
                    return promise.then(
                        (credential) => {{ entry.outcome = credential ? "credential" : "null"; return credential; }},
                        (error) => {{ entry.outcome = error?.name ?? String(error); throw error; }},
                    );
                }};
            }})()"#
        );
        self.page.evaluate_on_new_document(script).await.unwrap();
    }

    /// The `navigator.credentials.get()` calls recorded by [`Tab::record_gets`].
    pub async fn gets(&self) -> Vec<Value> {
        let gets = self.eval("window.__gets ?? []").await;
        gets.as_array().cloned().unwrap_or_default()
    }

    /// The cookies the browser would send to `url` (`Network.getCookies`), HttpOnly ones
    /// included: the ones no script of a page can read.
    pub async fn cookies_for(&self, url: &str) -> Vec<Cookie> {
        self.page
            .execute(GetCookiesParams::builder().url(url).build())
            .await
            .unwrap()
            .result
            .cookies
            .clone()
    }

    /// Every cookie of the browser, whatever its site (`Storage.getCookies`).
    pub async fn all_cookies(&self) -> Vec<Cookie> {
        self.page
            .execute(chromiumoxide::cdp::browser_protocol::storage::GetCookiesParams::default())
            .await
            .unwrap()
            .result
            .cookies
            .clone()
    }

    /// Stores a cookie for `url` as a server's `Set-Cookie: name=value; HttpOnly;
    /// SameSite=Lax; Path=/` would have.
    pub async fn set_http_only_cookie(&self, url: &str, name: &str, value: &str) {
        let cookie = SetCookieParams::builder()
            .name(name)
            .value(value)
            .url(url)
            .path("/")
            .http_only(true)
            .same_site(CookieSameSite::Lax)
            .build()
            .unwrap();
        self.page.execute(cookie).await.unwrap();
        // The command answers nothing either way: a cookie Chromium refused is simply absent.
        assert!(
            self.cookies_for(url).await.iter().any(|c| c.name == name),
            "Chromium did not keep the cookie {name} for {url}"
        );
    }

    /// Navigates and waits for the load event.
    pub async fn goto(&self, url: &str) {
        self.page
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("could not load {url}: {e}"));
    }

    /// Evaluates an expression (promises awaited, with a user gesture, as a click would give);
    /// returns its JSON value (`Null` for undefined) or the exception as text.
    pub async fn try_eval(&self, js: &str) -> Result<Value, String> {
        let params = EvaluateParams::builder()
            .expression(js)
            .await_promise(true)
            .return_by_value(true)
            .user_gesture(true)
            .build()
            .unwrap();
        match self.page.evaluate_expression(params).await {
            Ok(result) => Ok(result.value().cloned().unwrap_or(Value::Null)),
            Err(e) => Err(format!("{e:?}")),
        }
    }

    /// Evaluates an expression; an exception fails the test.
    pub async fn eval(&self, js: &str) -> Value {
        self.try_eval(js)
            .await
            .unwrap_or_else(|e| panic!("evaluating {js}\nfailed: {e}"))
    }

    /// Waits until `condition` (a JavaScript expression) is truthy; fails after [`WAIT`] with
    /// `what` and the demo's status line, which usually says why.
    pub async fn wait_for(&self, what: &str, condition: &str) {
        let started = Instant::now();
        let mut last = String::new();
        loop {
            // Errors while a page navigates (no execution context yet) are not failures.
            match self.try_eval(&format!("!!({condition})")).await {
                Ok(Value::Bool(true)) => return,
                Ok(_) => {}
                Err(e) => last = e,
            }
            if started.elapsed() > WAIT {
                let status = self.status_text().await;
                panic!(
                    "timed out after {WAIT:?} waiting for {what}\ncondition: {condition}\n\
                     status line: {status:?}\nlast evaluation error: {last}"
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The demo's status line (empty elsewhere).
    pub async fn status_text(&self) -> String {
        self.try_eval("document.querySelector('#status')?.innerText ?? ''")
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Whether an element is there and rendered (not inside anything hidden).
    fn visible_js(selector: &str) -> String {
        format!(
            "(() => {{ const e = document.querySelector({s}); \
             return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0; }})()",
            s = js_str(selector)
        )
    }

    /// Waits until an element is visible.
    pub async fn wait_visible(&self, selector: &str) {
        self.wait_for(
            &format!("{selector} to be visible"),
            &Self::visible_js(selector),
        )
        .await;
    }

    /// Clicks an element with a real mouse event, once it is visible and the demo is not busy
    /// (the demo ignores clicks while a ceremony runs).
    pub async fn click(&self, selector: &str) {
        self.wait_for(
            &format!("{selector} to be clickable"),
            &format!(
                "{} && !document.body.classList.contains('is-busy')",
                Self::visible_js(selector)
            ),
        )
        .await;
        self.page
            .find_element(selector)
            .await
            .unwrap_or_else(|e| panic!("no {selector}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("could not click {selector}: {e}"));
    }

    /// Sets a text field's value as typing would (an input event follows).
    pub async fn fill(&self, selector: &str, text: &str) {
        self.wait_visible(selector).await;
        self.eval(&format!(
            "(() => {{ const e = document.querySelector({s}); e.focus(); e.value = {t}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); }})()",
            s = js_str(selector),
            t = js_str(text)
        ))
        .await;
    }

    /// The text of an element.
    pub async fn text(&self, selector: &str) -> String {
        let value = self
            .eval(&format!(
                "document.querySelector({})?.textContent ?? null",
                js_str(selector)
            ))
            .await;
        value
            .as_str()
            .unwrap_or_else(|| panic!("no {selector}"))
            .to_owned()
    }

    /// Emulates a viewport (a phone's below 600 CSS pixels wide) and waits until the page has
    /// been laid out and painted at that size.
    pub async fn set_viewport(&self, width: i64, height: i64) {
        self.page
            .execute(
                SetDeviceMetricsOverrideParams::builder()
                    .width(width)
                    .height(height)
                    .device_scale_factor(1.0)
                    .mobile(width < 600)
                    .build()
                    .unwrap(),
            )
            .await
            .unwrap();
        self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            .await;
    }

    /// Saves a PNG of the viewport (scrolled to the top), or of the whole page.
    pub async fn screenshot(&self, path: &Path, whole_page: bool) {
        self.eval("window.scrollTo(0, 0)").await;
        let clip = if whole_page {
            let size = self
                .eval("[window.innerWidth, document.documentElement.scrollHeight]")
                .await;
            Some(Viewport {
                x: 0.0,
                y: 0.0,
                width: size[0].as_f64().unwrap(),
                height: size[1].as_f64().unwrap(),
                scale: 1.0,
            })
        } else {
            None
        };
        self.capture(path, clip).await;
    }

    /// Saves a PNG of one element, all of it (beyond the viewport too).
    pub async fn screenshot_of(&self, path: &Path, selector: &str) {
        let rect = self
            .eval(&format!(
                "(() => {{ const r = document.querySelector({}).getBoundingClientRect(); \
                 return [r.left + scrollX, r.top + scrollY, r.width, r.height]; }})()",
                js_str(selector)
            ))
            .await;
        let number = |i: usize| rect[i].as_f64().unwrap();
        let clip = Viewport {
            x: number(0),
            y: number(1),
            width: number(2),
            height: number(3),
            scale: 1.0,
        };
        self.capture(path, Some(clip)).await;
    }

    async fn capture(&self, path: &Path, clip: Option<Viewport>) {
        let mut params = CaptureScreenshotParams::builder().format(CaptureScreenshotFormat::Png);
        if let Some(clip) = clip {
            params = params.capture_beyond_viewport(true).clip(clip);
        }
        let shot = self.page.execute(params.build()).await.unwrap();
        let png = passkeyd_core::b64::decode(shot.result.data.as_ref()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
    }
}

/// The demo page at `/`, through a tab.
pub struct Demo<'a> {
    pub tab: &'a Tab,
}

impl Demo<'_> {
    /// Loads the demo and waits until its script has finished starting (`data-ready`).
    pub async fn open(&self, url: &str) {
        self.tab.goto(url).await;
        self.tab
            .wait_for(
                "the demo to start",
                "document.documentElement.dataset.ready === 'true'",
            )
            .await;
    }

    /// Signs up with a new passkey and waits for the signed-in area.
    pub async fn sign_up(&self, username: &str) {
        self.tab.fill("#signup-username", username).await;
        self.tab.click("#signup-button").await;
        self.wait_signed_in(username).await;
    }

    /// Waits until the signed-in area shows `username`.
    pub async fn wait_signed_in(&self, username: &str) {
        self.tab
            .wait_for(
                &format!("the signed-in area for {username}"),
                &format!(
                    "!document.querySelector('#signed-in').hidden && \
                     document.querySelector('#signed-out').hidden && \
                     document.querySelector('#account-username').textContent === {}",
                    js_str(username)
                ),
            )
            .await;
    }

    /// Signs out and waits for the sign-in forms.
    pub async fn sign_out(&self) {
        self.tab.click("#signout").await;
        self.wait_signed_out().await;
    }

    /// Waits until the sign-in forms show and the page is idle.
    pub async fn wait_signed_out(&self) {
        self.tab
            .wait_for(
                "the signed-out forms",
                "document.querySelector('#signed-in').hidden && \
                 !document.querySelector('#signed-out').hidden && \
                 !document.body.classList.contains('is-busy')",
            )
            .await;
    }

    /// Waits for an error in the status line and returns its code.
    pub async fn error_code(&self) -> String {
        self.tab
            .wait_for(
                "an error in the status line",
                "document.querySelector('#status').dataset.kind === 'error' && \
                 !!document.querySelector('#status [data-testid=error-code]')",
            )
            .await;
        self.tab.text("#status [data-testid=error-code]").await
    }

    /// The names shown in the passkey list, in order.
    pub async fn passkey_names(&self) -> Vec<String> {
        let names = self
            .tab
            .eval(
                "Array.from(document.querySelectorAll('#passkey-list [data-testid=passkey-name]'), \
                 e => e.textContent)",
            )
            .await;
        serde_json::from_value(names).unwrap()
    }

    /// Waits until the passkey list has `n` entries.
    pub async fn wait_passkey_count(&self, n: usize) {
        self.tab
            .wait_for(
                &format!("{n} passkeys in the list"),
                &format!(
                    "document.querySelectorAll('#passkey-list li[data-passkey-id]').length === {n} \
                     && !document.body.classList.contains('is-busy')"
                ),
            )
            .await;
    }

    /// Records every response of `fetch` the page makes from now on in `window.__fetches`
    /// (url, status, JSON body), to read the nonces the SDK gets and hands to the demo backend.
    pub async fn record_fetches(&self) {
        self.tab
            .eval(
                r#"(() => {
                    if (window.__fetches) return;
                    window.__fetches = [];
                    const original = window.fetch;
                    window.fetch = async function (input, init) {
                        const url = typeof input === "string" ? input : input.url;
                        const response = await original.call(this, input, init);
                        const body = await response.clone().json().catch(() => null);
                        window.__fetches.push({ url, status: response.status, body });
                        return response;
                    };
                })()"#,
            )
            .await;
    }

    /// The recorded responses whose URL ends with `suffix`.
    pub async fn fetches(&self, suffix: &str) -> Vec<Value> {
        let all = self.tab.eval("window.__fetches ?? []").await;
        all.as_array()
            .unwrap()
            .iter()
            .filter(|f| f["url"].as_str().is_some_and(|u| u.ends_with(suffix)))
            .cloned()
            .collect()
    }
}
