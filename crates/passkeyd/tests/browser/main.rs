//! End-to-end tests in real headless Chromium: the demo page, the browser SDK and the public
//! endpoints, driven over the DevTools protocol with a virtual WebAuthn authenticator.
//!
//! Each test runs its own passkeyd in-process (fresh SQLite, the default app on
//! `http://localhost:<port>` with the demo on) and its own Chromium (Debian's
//! `/usr/bin/chromium`, a fresh profile). Without Chromium the tests print `SKIPPED` and pass,
//! except in CI (`CI=true`), where they fail. The `@simplewebauthn/browser` test also needs
//! `npm ci --prefix crates/passkeyd/tests/browser`. Screenshots go to `target/e2e-artifacts/`.

#![allow(clippy::unwrap_used)]

mod admin;
mod chrome;
mod demo;
mod demo_regressions;
mod harness;
mod origins;
mod screenshots;
mod sessions;
mod simplewebauthn;
