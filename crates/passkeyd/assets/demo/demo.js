// The passkeyd demo page: sign-up, three kinds of sign-in, passkey management, and a panel that
// decodes every ceremony. No framework; every DOM node is built with textContent (no innerHTML),
// so nothing the server or the user typed is ever parsed as HTML.

import { Passkeyd, PasskeydError, base64urlToBuffer } from "/sdk/passkeyd.js";

const appId = document.querySelector('meta[name="passkeyd-app-id"]')?.getAttribute("content")?.trim() || "default";

const $ = (selector) => document.querySelector(selector);

/** Builds an element: h("p", {class: "x"}, "text", child). */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key in node && typeof value !== "string") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------------------------
// Talking to the demo backend

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new PasskeydError("network", "The demo backend could not be reached.", { cause: e });
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = data?.error;
    const retryAfter = Number.parseInt(response.headers.get("retry-after") ?? "", 10);
    throw new PasskeydError(
      response.status === 429 ? "rate_limited" : err?.code || "server_error",
      err?.message || `The demo backend answered ${response.status}.`,
      {
        status: response.status,
        requestId: err?.request_id ?? response.headers.get("x-request-id") ?? undefined,
        retryAfter: Number.isFinite(retryAfter) ? retryAfter : undefined,
      },
    );
  }
  return data;
}

// ---------------------------------------------------------------------------------------------
// Status messages

const FRIENDLY = {
  cancelled: "The passkey prompt was closed, so nothing happened. You can try again.",
  timeout: "The passkey prompt timed out before a passkey was chosen.",
  not_supported: "This browser or authenticator cannot do what was asked.",
  already_registered: "This authenticator already holds a passkey for this account. Use another one (a phone, a security key, a password manager).",
  invalid_domain: "This page's address does not match the app's RP ID, so the browser refused.",
  network: "The server could not be reached. Is passkeyd running?",
  rate_limited: "Too many attempts.",
  username_taken: "That username is taken. Sign in instead, or choose another.",
  user_not_found: "No account has that username. Create one first.",
  unknown_credential: "passkeyd no longer knows that passkey (it was deleted). Your browser was told to stop offering it.",
  not_signed_in: "You are not signed in any more.",
  no_passkeys: "That account has no passkeys.",
  too_many_passkeys: "This account has as many passkeys as the app allows. Delete one first.",
  ceremony_expired: "The ceremony took too long and expired. Try again.",
  ceremony_not_found: "That ceremony is over (it was used or expired). Try again.",
  sessions_disabled: "This app has passkeyd sessions off (passkeyd apps update default --sessions on).",
  invalid_session: "Your passkeyd session ended (signed out, revoked or expired). Sign in again.",
  reverification_required: "This needs a passkey check from the last few minutes.",
  passkey_not_found: "That passkey is gone already.",
};

function setStatus(kind, title, detail) {
  const status = $("#status");
  status.dataset.kind = kind;
  status.replaceChildren(h("strong", {}, title), detail ? " " : "", detail ?? "");
}

function showInfo(text) {
  setStatus("info", text);
}

function showSuccess(text) {
  setStatus("success", text);
}

function showError(title, error) {
  const e = error instanceof PasskeydError ? error : new PasskeydError("unexpected_error", String(error?.message ?? error));
  let friendly = FRIENDLY[e.code] ?? "";
  if (e.code === "rate_limited" && e.retryAfter !== undefined) friendly += ` Try again in ${e.retryAfter} s.`;
  const detail = h(
    "span",
    { class: "error-detail" },
    friendly ? `${friendly} ` : "",
    h("code", { class: "error-code", "data-testid": "error-code" }, e.code),
    // The friendly text says it already: the SDK's or server's message would repeat it.
    !friendly && e.message ? ` ${e.message}` : "",
    e.requestId ? h("span", { class: "request-id" }, ` (request ${e.requestId})`) : "",
  );
  setStatus("error", title, detail);
}

// ---------------------------------------------------------------------------------------------
// Decoding: CBOR, authenticator data, client data

/** A small CBOR decoder, enough for attestation objects and COSE keys (definite lengths only). */
function decodeCbor(bytes, start = 0) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = start;
  const need = (n) => {
    if (pos + n > bytes.length) throw new Error("CBOR ends early");
  };
  const arg = (info) => {
    if (info < 24) return info;
    const sizes = { 24: 1, 25: 2, 26: 4, 27: 8 };
    const size = sizes[info];
    if (!size) throw new Error("indefinite or reserved CBOR length");
    need(size);
    let value;
    if (size === 1) value = view.getUint8(pos);
    else if (size === 2) value = view.getUint16(pos);
    else if (size === 4) value = view.getUint32(pos);
    else value = view.getUint32(pos) * 2 ** 32 + view.getUint32(pos + 4);
    pos += size;
    return value;
  };
  const item = (depth) => {
    if (depth > 16) throw new Error("CBOR nests too deep");
    need(1);
    const initial = bytes[pos++];
    const major = initial >> 5;
    const info = initial & 31;
    switch (major) {
      case 0:
        return arg(info);
      case 1:
        return -1 - arg(info);
      case 2: {
        const n = arg(info);
        need(n);
        const value = bytes.slice(pos, pos + n);
        pos += n;
        return value;
      }
      case 3: {
        const n = arg(info);
        need(n);
        const value = new TextDecoder().decode(bytes.subarray(pos, pos + n));
        pos += n;
        return value;
      }
      case 4: {
        const n = arg(info);
        const out = [];
        for (let i = 0; i < n; i++) out.push(item(depth + 1));
        return out;
      }
      case 5: {
        const n = arg(info);
        const out = new Map();
        for (let i = 0; i < n; i++) {
          const key = item(depth + 1);
          out.set(key, item(depth + 1));
        }
        return out;
      }
      case 6:
        arg(info);
        return item(depth + 1);
      default:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        if (info === 23) return undefined;
        if (info === 26) {
          need(4);
          pos += 4;
          return view.getFloat32(pos - 4);
        }
        if (info === 27) {
          need(8);
          pos += 8;
          return view.getFloat64(pos - 8);
        }
        throw new Error(`CBOR simple value ${info} not shown`);
    }
  };
  const value = item(0);
  return { value, end: pos };
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const b64uBytes = (value) => new Uint8Array(base64urlToBuffer(value));

function formatAaguid(bytes) {
  const x = hex(bytes);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

const FLAGS = [
  ["UP", 0x01, "User present: someone touched or approved the authenticator"],
  ["UV", 0x04, "User verified: with a fingerprint, face, PIN or device password"],
  ["BE", 0x08, "Backup eligible: this passkey can be synced to other devices"],
  ["BS", 0x10, "Backed up: this passkey is synced right now"],
  ["AT", 0x40, "Attested credential data: a new public key follows (registration)"],
  ["ED", 0x80, "Extension data follows"],
];

const COSE_ALGS = { "-7": "ES256", "-8": "EdDSA", "-35": "ES384", "-36": "ES512", "-257": "RS256", "-258": "RS384", "-259": "RS512", "-37": "PS256", "-38": "PS384", "-39": "PS512", "-65535": "RS1", "-48": "ML-DSA-44", "-49": "ML-DSA-65", "-50": "ML-DSA-87", "-19": "Ed25519" };
const COSE_KTY = { 1: "OKP", 2: "EC2", 3: "RSA", 7: "AKP" };
const COSE_CRV = { 1: "P-256", 2: "P-384", 3: "P-521", 6: "Ed25519", 7: "Ed448" };
const algName = (alg) => (COSE_ALGS[String(alg)] ? `${COSE_ALGS[String(alg)]} (${alg})` : String(alg));

function parseAuthenticatorData(bytes) {
  if (bytes.length < 37) throw new Error(`authenticator data is ${bytes.length} bytes, at least 37 expected`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = bytes[32];
  const out = { rpIdHash: bytes.slice(0, 32), flags, signCount: view.getUint32(33), length: bytes.length };
  let pos = 37;
  if (flags & 0x40) {
    if (bytes.length < pos + 18) throw new Error("attested credential data ends early");
    const aaguid = bytes.slice(pos, pos + 16);
    const idLength = view.getUint16(pos + 16);
    pos += 18;
    const credentialId = bytes.slice(pos, pos + idLength);
    pos += idLength;
    const key = decodeCbor(bytes, pos);
    pos = key.end;
    out.attested = { aaguid, credentialId, publicKey: key.value };
  }
  if (flags & 0x80 && pos < bytes.length) {
    out.extensions = decodeCbor(bytes, pos).value;
  }
  return out;
}

/** CBOR values as JSON-friendly values (bytes as hex), for display. */
function cborForDisplay(value) {
  if (value instanceof Uint8Array) return `h'${hex(value.length > 48 ? value.slice(0, 48) : value)}${value.length > 48 ? "…" : ""}' (${value.length} bytes)`;
  if (value instanceof Map) {
    const out = {};
    for (const [k, v] of value) out[String(k)] = cborForDisplay(v);
    return out;
  }
  if (Array.isArray(value)) return value.map(cborForDisplay);
  return value;
}

async function sha256Hex(text) {
  if (!globalThis.crypto?.subtle) return undefined;
  try {
    return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
  } catch {
    return undefined;
  }
}

const stripPadding = (s) => (typeof s === "string" ? s.replace(/=+$/, "") : s);

// ---------------------------------------------------------------------------------------------
// The "What just happened" panel

const MAX_ENTRIES = 6;

function pretty(value) {
  return JSON.stringify(value, null, 2);
}

function rawDetails(summary, value) {
  return h("details", { class: "raw" }, h("summary", {}, summary), h("pre", { tabindex: "0" }, h("code", {}, typeof value === "string" ? value : pretty(value))));
}

function facts(rows) {
  return h(
    "dl",
    { class: "facts" },
    rows.filter(Boolean).map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]),
  );
}

function mono(text) {
  return h("code", { class: "mono" }, text);
}

function check(ok, text) {
  return h(
    "li",
    { "data-state": ok === undefined ? "unknown" : ok ? "yes" : "no" },
    h("span", { class: "mark", "aria-hidden": "true" }),
    h("span", { class: "visually-hidden" }, ok === undefined ? "Not checked: " : ok ? "Yes: " : "No: "),
    text,
  );
}

function shorten(s, n = 24) {
  return typeof s === "string" && s.length > n ? `${s.slice(0, n)}…` : s;
}

function describeOptions(ceremony, options) {
  const rows = [];
  rows.push(["challenge", mono(shorten(options.challenge, 32))]);
  if (ceremony === "registration") {
    rows.push(["relying party", `${options.rp?.name ?? ""} (RP ID ${options.rp?.id ?? location.hostname})`]);
    rows.push(["user", h("span", {}, `${options.user?.name ?? ""}, user handle `, mono(shorten(options.user?.id, 24)))]);
    rows.push(["algorithms", (options.pubKeyCredParams ?? []).map((p) => algName(p.alg)).join(", ")]);
    const sel = options.authenticatorSelection ?? {};
    rows.push(["resident key", sel.residentKey ?? (sel.requireResidentKey ? "required" : "discouraged")]);
    rows.push(["user verification", sel.userVerification ?? "preferred"]);
    if (sel.authenticatorAttachment) rows.push(["attachment", sel.authenticatorAttachment]);
    rows.push([
      "exclude",
      options.excludeCredentials?.length
        ? `${options.excludeCredentials.length} passkey(s) you already have, so the same authenticator is not registered twice`
        : "none",
    ]);
    rows.push(["attestation", options.attestation ?? "none"]);
  } else {
    rows.push(["RP ID", options.rpId ?? location.hostname]);
    rows.push([
      "allow",
      options.allowCredentials?.length
        ? `${options.allowCredentials.length} passkey(s) of this user (username-first)`
        : "any passkey for this site (discoverable)",
    ]);
    rows.push(["user verification", options.userVerification ?? "preferred"]);
  }
  if (options.timeout) rows.push(["timeout", `${Math.round(options.timeout / 1000)} s`]);
  if (options.hints?.length) rows.push(["hints", options.hints.join(", ")]);
  return h("div", {}, facts(rows), rawDetails("Options JSON", options));
}

function flagsList(flags) {
  return h(
    "ul",
    { class: "flags", "aria-label": "Flags" },
    FLAGS.map(([name, bit, meaning]) => {
      const on = (flags & bit) !== 0;
      return h(
        "li",
        { "data-state": on ? "yes" : "no" },
        h("span", { class: "mark", "aria-hidden": "true" }),
        h("abbr", { title: meaning }, name),
        h("span", { class: "visually-hidden" }, on ? " set: " : " not set: "),
        h("span", { class: "flag-meaning" }, meaning.split(":")[0]),
      );
    }),
  );
}

async function describeResponse(ceremony, options, credential) {
  const parts = [];
  const response = credential.response ?? {};
  const rows = [
    ["credential id", mono(shorten(credential.id, 32))],
    credential.authenticatorAttachment ? ["attachment", credential.authenticatorAttachment] : null,
    response.transports?.length ? ["transports", response.transports.join(", ")] : null,
    response.userHandle ? ["user handle", mono(shorten(response.userHandle, 32))] : null,
  ];
  parts.push(facts(rows));

  // clientDataJSON: what the browser says it asked for.
  try {
    const text = new TextDecoder().decode(b64uBytes(response.clientDataJSON));
    const clientData = JSON.parse(text);
    const expectedType = ceremony === "registration" ? "webauthn.create" : "webauthn.get";
    parts.push(
      h("h5", {}, "clientDataJSON (written by the browser)"),
      h("pre", { class: "json", tabindex: "0" }, h("code", {}, pretty(clientData))),
      h(
        "ul",
        { class: "checks" },
        check(clientData.type === expectedType, h("span", {}, "type is ", mono(expectedType))),
        check(stripPadding(clientData.challenge) === stripPadding(options?.challenge), "challenge is the one passkeyd sent"),
        check(clientData.origin === location.origin, h("span", {}, "origin is this page's, ", mono(location.origin))),
      ),
    );
  } catch (e) {
    parts.push(h("p", { class: "hint" }, `clientDataJSON could not be decoded: ${e.message}`));
  }

  // authenticatorData: what the authenticator signed.
  let authData;
  let attestationFormat;
  let attestationError;
  try {
    if (response.attestationObject) {
      const att = decodeCbor(b64uBytes(response.attestationObject)).value;
      if (att instanceof Map) {
        attestationFormat = att.get("fmt");
        if (!response.authenticatorData && att.get("authData") instanceof Uint8Array) authData = att.get("authData");
      }
    }
  } catch (e) {
    attestationError = e.message;
  }
  try {
    if (!authData && response.authenticatorData) authData = b64uBytes(response.authenticatorData);
    if (authData) {
      const parsed = parseAuthenticatorData(authData);
      const rpId = ceremony === "registration" ? options?.rp?.id ?? location.hostname : options?.rpId ?? location.hostname;
      const expectedHash = await sha256Hex(rpId);
      const rpIdHash = hex(parsed.rpIdHash);
      const rows = [
        ["rpIdHash", h("span", {}, mono(rpIdHash))],
        ["flags", h("span", {}, mono(`0x${parsed.flags.toString(16).padStart(2, "0")}`), flagsList(parsed.flags))],
        ["signCount", h("span", {}, String(parsed.signCount), parsed.signCount === 0 ? h("span", { class: "hint" }, " (most passkeys do not count)") : "")],
      ];
      if (parsed.attested) {
        const key = parsed.attested.publicKey;
        const keyText =
          key instanceof Map
            ? [COSE_KTY[key.get(1)] ?? `kty ${key.get(1)}`, algName(key.get(3)), key.has(-1) && (key.get(1) === 2 || key.get(1) === 1) ? COSE_CRV[key.get(-1)] ?? `crv ${key.get(-1)}` : null]
                .filter(Boolean)
                .join(", ")
            : "?";
        rows.push(["AAGUID", h("span", {}, mono(formatAaguid(parsed.attested.aaguid)), h("span", { class: "hint" }, " (the authenticator model)"))]);
        rows.push(["credential id", h("span", {}, `${parsed.attested.credentialId.length} bytes`)]);
        rows.push(["public key", h("span", {}, `COSE ${keyText}`)]);
      }
      if (parsed.extensions) rows.push(["extensions", mono(JSON.stringify(cborForDisplay(parsed.extensions)))]);
      if (attestationFormat !== undefined) rows.push(["attestation format", mono(String(attestationFormat))]);
      parts.push(
        h("h5", {}, "authenticatorData (signed by the authenticator)"),
        facts(rows),
        h(
          "ul",
          { class: "checks" },
          check(expectedHash === undefined ? undefined : expectedHash === rpIdHash, h("span", {}, "rpIdHash is SHA-256 of ", mono(rpId))),
        ),
      );
    }
  } catch (e) {
    parts.push(h("p", { class: "hint" }, `authenticatorData could not be decoded: ${e.message}`));
  }
  if (attestationError) parts.push(h("p", { class: "hint" }, `attestationObject could not be decoded: ${attestationError}`));
  if (ceremony === "authentication") {
    parts.push(
      h(
        "p",
        { class: "explain" },
        "The signature covers authenticatorData followed by SHA-256(clientDataJSON). passkeyd checks it with the public key it stored at registration.",
      ),
    );
  }
  parts.push(rawDetails("Response JSON (PublicKeyCredential.toJSON())", credential));
  return h("div", {}, parts);
}

class CeremonyEntry {
  constructor(title, intro) {
    this.title = title;
    this.intro = intro;
    this.options = undefined;
    this.ceremony = undefined;
    this.pending = [];
    this.node = undefined;
    this.steps = undefined;
    this.number = 0;
    this.lazy = false;
    this.seenResponse = false;
  }

  /** Shows the entry (lazy entries stay hidden until the authenticator answers). */
  mount() {
    if (this.node) return;
    const time = new Date();
    this.steps = h("ol", { class: "steps" });
    this.node = h(
      "article",
      { class: "ceremony" },
      h(
        "header",
        { class: "ceremony-head" },
        h("h3", {}, this.title),
        h("time", { datetime: time.toISOString() }, time.toLocaleTimeString()),
      ),
      this.intro ? h("p", { class: "explain" }, this.intro) : "",
      this.steps,
    );
    const log = $("#ceremony-log");
    log.prepend(this.node);
    while (log.children.length > MAX_ENTRIES) log.lastElementChild.remove();
    $("#ceremony-empty").hidden = true;
    for (const step of this.pending) this.#append(...step);
    this.pending = [];
  }

  step(title, content, kind = "ok") {
    if (!this.node && this.lazy && !this.seenResponse) {
      this.pending.push([title, content, kind]);
      return;
    }
    this.mount();
    this.#append(title, content, kind);
  }

  #append(title, content, kind) {
    this.number += 1;
    this.steps.append(h("li", { class: `step step-${kind}` }, h("h4", {}, title), content));
  }

  fail(error) {
    if (!this.node && this.lazy && !this.seenResponse) return;
    const e = error instanceof PasskeydError ? error : new PasskeydError("unexpected_error", String(error?.message ?? error));
    this.step(
      "It failed",
      h(
        "p",
        {},
        h("code", { class: "error-code" }, e.code),
        " ",
        e.message,
        e.status ? ` (HTTP ${e.status}${e.requestId ? `, request ${e.requestId}` : ""})` : "",
      ),
      "error",
    );
  }

  /** The SDK's onCeremony hook for this entry. */
  async onCeremony({ ceremony, step, data, context }) {
    this.ceremony = ceremony;
    if (step === "options") {
      this.options = data;
      this.step(
        context === "create_passkey"
          ? "POST /v1/me/passkeys: an unverified passkey with creation options"
          : ceremony === "registration"
            ? "passkeyd sent creation options"
            : "passkeyd sent request options",
        h(
          "div",
          {},
          h(
            "p",
            { class: "explain" },
            ceremony === "registration"
              ? "The SDK passed them to navigator.credentials.create(). The challenge is random and single-use."
              : "The SDK passed them to navigator.credentials.get(). The challenge is random and single-use.",
          ),
          describeOptions(ceremony, data),
        ),
      );
    } else if (step === "response") {
      this.seenResponse = true;
      const placeholder = h("div", {}, h("p", { class: "hint" }, "Decoding…"));
      this.step(ceremony === "registration" ? "Your authenticator made a new passkey" : "Your authenticator signed the challenge", placeholder);
      try {
        placeholder.replaceChildren(await describeResponse(ceremony, this.options, data));
      } catch (e) {
        placeholder.replaceChildren(h("p", { class: "hint" }, `Could not decode: ${e.message}`), rawDetails("Response JSON", data));
      }
    } else if (step === "result") {
      this.step("passkeyd verified it", describeResult(ceremony, context, data));
    }
  }
}

/** What passkeyd answered at the end of a ceremony, by the SDK call that ran it. */
function describeResult(ceremony, context, data) {
  const checked =
    ceremony === "registration"
      ? "It checked the client data, the RP ID hash, the flags and the attestation, and stored the public key. "
      : "It checked the client data, the RP ID hash, the flags, the signature and the counter. ";
  if (context === "sign_in") {
    return h(
      "div",
      {},
      h("p", { class: "explain" }, checked, "It started a session: the answer set the HttpOnly passkeyd_session cookie (the page cannot read it) and carries a short-lived JWT for the app's backend."),
      facts([
        ["session", mono(String(data?.session?.session?.id ?? ""))],
        ["JWT expires", timeNode(data?.session?.jwt_expires_at, "—")],
      ]),
    );
  }
  if (context === "create_passkey") {
    return h(
      "div",
      {},
      h("p", { class: "explain" }, checked, "attempt_verification answered with the passkey, now verified and in the user's list."),
      facts([
        ["passkey", mono(String(data?.id ?? ""))],
        ["name", String(data?.name ?? "")],
      ]),
    );
  }
  if (context === "reverify") {
    return h(
      "div",
      {},
      h("p", { class: "explain" }, checked, "It recorded the check in the session: sensitive actions are allowed for the next few minutes."),
      facts([["verified at", timeNode(data?.verified_at, "—")]]),
    );
  }
  return h(
    "div",
    {},
    h(
      "p",
      { class: "explain" },
      checked,
      "The page hands its one-time nonce to the backend, which redeems it with its secret key to learn the verified result.",
    ),
    facts([["nonce", mono(shorten(data?.nonce, 40))]]),
  );
}

// ---------------------------------------------------------------------------------------------
// State

const state = {
  busy: false,
  signedIn: false,
  capabilities: { webauthn: false, platform: false, autofill: false },
  conditional: null, // { controller, promise }
  conditionalFailures: 0,
  passkeys: [],
};

/** A client whose ceremonies are drawn into one panel entry. */
function client(entry) {
  return new Passkeyd({ appId, onCeremony: (event) => entry.onCeremony(event) });
}

const ACTION_SELECTOR = [
  "#signup-button, #signin-button, #signin-username-button, #add-passkey, #signout, #passkey-list button",
  "#session-signin-button, #session-token-button, #session-add-passkey, #session-signout, #session-passkey-list button",
].join(", ");

function setBusy(busy, button) {
  state.busy = busy;
  document.body.classList.toggle("is-busy", busy);
  for (const b of document.querySelectorAll(ACTION_SELECTOR)) {
    if (busy) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
    b.removeAttribute("aria-busy");
  }
  if (busy && button) button.setAttribute("aria-busy", "true");
}

/** Runs one user action: stops the autofill request first, and restarts it after. */
async function run(button, action) {
  if (state.busy) return;
  setBusy(true, button);
  try {
    await stopConditional();
    await action();
  } finally {
    setBusy(false);
    if (!state.signedIn) startConditional();
  }
}

function requireUsername(input) {
  const username = input.value.trim();
  if (!username) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    setStatus("error", "Enter a username first.");
    return undefined;
  }
  input.removeAttribute("aria-invalid");
  return username;
}

// ---------------------------------------------------------------------------------------------
// Sign-up and sign-in

async function completeSignIn(nonce, entry) {
  const session = await api("POST", "/demo/api/session", { nonce });
  entry?.step(
    "The demo backend redeemed the nonce",
    h("p", { class: "explain" }, `It set a session cookie: you are signed in as ${session?.user?.username ?? session?.user?.external_id ?? "you"}.`),
  );
  if (await loadAccount({ focus: true })) {
    showSuccess(`Signed in as ${session?.user?.username ?? session?.user?.external_id ?? "you"}.`);
  } else {
    showError(
      "Signed in, but the session did not hold.",
      new PasskeydError("not_signed_in", "The demo backend accepted the nonce, but /demo/api/me does not see the session cookie."),
    );
  }
}

async function signUp(button) {
  const input = $("#signup-username");
  const username = requireUsername(input);
  if (!username) return;
  await run(button, async () => {
    const entry = new CeremonyEntry("Sign-up: a registration ceremony", `Creating the account “${username}” with a new passkey.`);
    try {
      showInfo("Creating your account…");
      const { transaction_id: transactionId } = await api("POST", "/demo/api/signup", { username });
      entry.step(
        "The demo backend started a registration",
        h("p", { class: "explain" }, "It created the user and asked passkeyd (with its secret key) for a transaction id, which it handed to this page: ", mono(shorten(transactionId, 28))),
      );
      showInfo("Follow your browser's prompt to create a passkey…");
      const nonce = await client(entry).register(transactionId);
      await completeSignIn(nonce, entry);
      input.value = "";
    } catch (e) {
      entry.fail(e);
      showError("Could not create the account.", e);
      if (e.code === "username_taken") input.focus();
    }
  });
}

async function signInWithButton(button) {
  await run(button, async () => {
    const entry = new CeremonyEntry("Sign-in with a button: a discoverable authentication", "No username: the browser offers every passkey it has for this site.");
    try {
      showInfo("Choose a passkey in your browser's prompt…");
      const nonce = await client(entry).authenticate();
      await completeSignIn(nonce, entry);
    } catch (e) {
      entry.fail(e);
      showError("Could not sign in.", e);
    }
  });
}

async function signInWithUsername(button) {
  const input = $("#signin-username");
  const username = requireUsername(input);
  if (!username) return;
  await run(button, async () => {
    const entry = new CeremonyEntry("Username-first sign-in", `Only the passkeys of “${username}” may answer.`);
    try {
      showInfo("Looking up your account…");
      const { transaction_id: transactionId } = await api("POST", "/demo/api/signin", { username });
      entry.step(
        "The demo backend started an authentication",
        h("p", { class: "explain" }, "It found the user and asked passkeyd for a transaction bound to them: ", mono(shorten(transactionId, 28))),
      );
      showInfo("Use your passkey in your browser's prompt…");
      const nonce = await client(entry).authenticate({ transactionId });
      await completeSignIn(nonce, entry);
      input.value = "";
    } catch (e) {
      entry.fail(e);
      showError("Could not sign in.", e);
      if (e.code === "user_not_found") input.focus();
    }
  });
}

/** Sign-in through autofill: a conditional request that waits on the username field. */
function startConditional() {
  if (state.conditional || state.signedIn || !state.capabilities.autofill) return;
  if (state.conditionalFailures >= 3) return; // something is wrong; the buttons still work
  const controller = new AbortController();
  const entry = new CeremonyEntry("Sign-in through autofill: a conditional request", "The page asked for a passkey when it loaded; the browser offered it in the username field's suggestions.");
  entry.lazy = true;
  const promise = (async () => {
    let nonce;
    try {
      nonce = await client(entry).authenticate({ mediation: "conditional", signal: controller.signal });
    } catch (e) {
      if (controller.signal.aborted) return;
      if (state.conditional?.controller === controller) state.conditional = null;
      state.conditionalFailures += 1;
      if (e.code !== "cancelled") {
        entry.fail(e);
        showError(entry.seenResponse ? "Could not sign in." : "Sign-in through autofill could not start.", e);
      }
      if (entry.seenResponse || e.code === "cancelled") {
        await delay(500);
        if (!state.busy) startConditional();
      } else {
        // It failed before the browser was even asked (the server refused or is down): say so
        // once, and leave the buttons to it rather than repeat the error after every action.
        state.conditionalFailures = Infinity;
      }
      return;
    }
    if (state.conditional?.controller === controller) state.conditional = null;
    if (state.busy) return;
    setBusy(true);
    try {
      await completeSignIn(nonce, entry);
    } catch (e) {
      entry.fail(e);
      showError("Could not sign in.", e);
    } finally {
      setBusy(false);
      if (!state.signedIn) startConditional();
    }
  })();
  state.conditional = { controller, promise };
}

/** Aborts the autofill request (the user chose another way) and waits until it has let go. */
async function stopConditional() {
  const current = state.conditional;
  if (!current) return;
  state.conditional = null;
  current.controller.abort();
  await Promise.race([current.promise.catch(() => {}), delay(1500)]);
}

// ---------------------------------------------------------------------------------------------
// Passkey lists: the nonce-style area and the session area show the same list, each with its
// own ids, data-action names and test ids (one passkey can be in both lists at once).

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "medium" });

function timeNode(value, fallback) {
  if (!value) return h("span", {}, fallback);
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) return h("span", {}, String(value));
  return h("time", { datetime: date.toISOString() }, dateFormat.format(date));
}

/** The two lists' names: `prefix` goes before data-action and data-testid values, `idPrefix` before element ids. */
const NONCE_LIST = { prefix: "", idPrefix: "pk" };
const SESSION_LIST = { prefix: "session-", idPrefix: "spk" };

/** What a list item shows, from the demo backend's JSON or from the SDK's PasskeyResource. */
function passkeyView(p) {
  return {
    id: p.id,
    name: p.name,
    model: p.authenticator_name ?? p.authenticatorName,
    synced: p.backup_state ?? p.backupState,
    syncable: p.backup_eligible ?? p.backupEligible,
    createdAt: p.created_at ?? p.createdAt,
    lastUsedAt: p.last_used_at ?? p.lastUsedAt,
  };
}

function syncBadge(view, variant) {
  const testid = `${variant.prefix}sync-state`;
  if (view.synced) return h("span", { class: "badge badge-synced", "data-testid": testid }, "Synced");
  if (view.syncable) return h("span", { class: "badge badge-eligible", "data-testid": testid }, "Can sync, not synced yet");
  return h("span", { class: "badge badge-device", "data-testid": testid }, "Device-bound");
}

function renderPasskey(passkey, only, variant = NONCE_LIST) {
  const view = passkeyView(passkey);
  const act = (name) => `${variant.prefix}${name}`;
  const nameId = `${variant.idPrefix}-name-${view.id}`;
  const renameInputId = `${variant.idPrefix}-rename-${view.id}`;
  const model = view.model || "Unknown authenticator";
  return h(
    "li",
    { class: "passkey", "data-passkey-id": view.id, "aria-labelledby": nameId },
    h(
      "div",
      { class: "passkey-main" },
      h("p", { class: "passkey-name", id: nameId, "data-testid": act("passkey-name") }, view.name),
      h("p", { class: "passkey-meta" }, h("span", { "data-testid": act("authenticator-name") }, model), " ", syncBadge(view, variant)),
      h(
        "p",
        { class: "passkey-dates" },
        "Created ",
        timeNode(view.createdAt, "—"),
        h("span", { "aria-hidden": "true" }, " · "),
        h("br", { class: "narrow-only" }),
        "Last used ",
        timeNode(view.lastUsedAt, "never"),
      ),
    ),
    h(
      "div",
      { class: "passkey-actions" },
      h("button", { class: "button small", type: "button", "data-action": act("rename"), "aria-describedby": nameId }, "Rename"),
      h("button", { class: "button small danger", type: "button", "data-action": act("delete"), "aria-describedby": nameId }, "Delete"),
    ),
    h(
      "form",
      { class: "passkey-rename inline-panel", hidden: true, novalidate: true },
      h("label", { for: renameInputId }, "New name"),
      h("div", { class: "inline-row" },
        h("input", { id: renameInputId, name: "name", type: "text", maxlength: "64", autocomplete: "off", value: view.name, "aria-describedby": `${renameInputId}-hint`, "data-testid": act("rename-input") }),
        h("button", { class: "button small primary", type: "submit", "data-action": act("save") }, "Save"),
        h("button", { class: "button small", type: "button", "data-action": act("cancel-rename") }, "Cancel"),
      ),
      h("p", { class: "hint", id: `${renameInputId}-hint` }, "Up to 64 characters. Esc cancels."),
    ),
    h(
      "div",
      { class: "passkey-confirm inline-panel", hidden: true, role: "group", "aria-label": `Delete ${view.name}?` },
      h(
        "p",
        {},
        only
          ? "This is your only passkey: without it you cannot sign in to this account again."
          : "passkeyd will forget it. Your device may still offer it: if you try it, passkeyd answers unknown_credential and the SDK tells your browser to drop it.",
      ),
      h("div", { class: "inline-row" },
        h("button", { class: "button small danger-solid", type: "button", "data-action": act("confirm-delete") }, "Delete passkey"),
        h("button", { class: "button small", type: "button", "data-action": act("cancel-delete") }, "Keep it"),
      ),
    ),
  );
}

function closeInlinePanels(li) {
  li.querySelector(".passkey-rename").hidden = true;
  li.querySelector(".passkey-confirm").hidden = true;
  li.querySelector(".passkey-actions").hidden = false;
}

/**
 * Wires a passkey list: the inline rename form and delete confirmation, with Esc to close them.
 * `name(id)` is the passkey's current name; `rename(id, name, saveButton)` and
 * `remove(id, confirmButton)` do the work.
 */
function wirePasskeyList(list, variant, { name, rename, remove }) {
  const act = (action) => `${variant.prefix}${action}`;
  list.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const li = button.closest("li[data-passkey-id]");
    if (!li) return;
    const id = li.dataset.passkeyId;
    const action = button.dataset.action;
    if (action === act("save")) return; // the form's submit handler saves
    event.preventDefault();
    if (state.busy) return;
    if (action === act("rename")) {
      closeInlinePanels(li);
      li.querySelector(".passkey-actions").hidden = true;
      const form = li.querySelector(".passkey-rename");
      form.hidden = false;
      const input = form.querySelector("input");
      input.value = name(id) ?? "";
      input.focus();
      input.select();
    } else if (action === act("delete")) {
      closeInlinePanels(li);
      li.querySelector(".passkey-actions").hidden = true;
      li.querySelector(".passkey-confirm").hidden = false;
      li.querySelector(`[data-action=${act("confirm-delete")}]`).focus();
    } else if (action === act("cancel-rename") || action === act("cancel-delete")) {
      closeInlinePanels(li);
      li.querySelector(`[data-action=${act("rename")}]`).focus();
    } else if (action === act("confirm-delete")) {
      await remove(id, button);
    }
  });
  list.addEventListener("submit", async (event) => {
    const form = event.target.closest(".passkey-rename");
    if (!form) return;
    event.preventDefault();
    if (state.busy) return;
    const id = form.closest("li[data-passkey-id]").dataset.passkeyId;
    const input = form.querySelector("input");
    const value = input.value.trim();
    if (!value) {
      input.setAttribute("aria-invalid", "true");
      input.focus();
      setStatus("error", "Enter a name for the passkey.");
      return;
    }
    input.removeAttribute("aria-invalid");
    await rename(id, value, form.querySelector(`[data-action=${act("save")}]`));
  });
  list.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const li = event.target.closest("li[data-passkey-id]");
    if (!li || (li.querySelector(".passkey-rename").hidden && li.querySelector(".passkey-confirm").hidden)) return;
    event.preventDefault();
    closeInlinePanels(li);
    li.querySelector(`[data-action=${act("rename")}]`).focus();
  });
}

/** Focuses a list item's Rename button, or `fallback` when the item is gone. */
function focusPasskey(list, variant, id, fallback) {
  const button = id ? list.querySelector(`li[data-passkey-id="${CSS.escape(id)}"] [data-action=${variant.prefix}rename]`) : null;
  (button ?? fallback).focus();
}

// ---------------------------------------------------------------------------------------------
// The signed-in area (nonce style: the demo backend keeps the session)

function renderAccount(me, focusPasskeyId) {
  state.signedIn = true;
  // A sign-in, whichever way, shows that the browser and the server work: autofill starts
  // afresh once the user signs out, even if it had given up on failures before.
  state.conditionalFailures = 0;
  state.passkeys = me.passkeys ?? [];
  $("#account-username").textContent = me.user?.username ?? me.user?.external_id ?? "";
  const list = $("#passkey-list");
  list.replaceChildren(...state.passkeys.map((p) => renderPasskey(p, state.passkeys.length === 1)));
  $("#passkey-empty").hidden = state.passkeys.length > 0;
  $("#signed-out").hidden = true;
  $("#signed-in").hidden = false;
  if (focusPasskeyId) focusPasskey(list, NONCE_LIST, focusPasskeyId, $("#add-passkey"));
}

function renderSignedOut() {
  state.signedIn = false;
  state.passkeys = [];
  $("#passkey-list").replaceChildren();
  $("#signed-in").hidden = true;
  $("#signed-out").hidden = false;
}

/** Loads /demo/api/me; shows the signed-in area or the signed-out one. */
async function loadAccount({ focus = false, focusPasskeyId } = {}) {
  try {
    const me = await api("GET", "/demo/api/me");
    renderAccount(me, focusPasskeyId);
    if (focus) $("#account-title").focus();
    return true;
  } catch (e) {
    renderSignedOut();
    if (e.status !== 401 && e.code !== "not_signed_in") showError("Could not load your account.", e);
    return false;
  }
}

/** Handles an error of a signed-in action: a lost session goes back to the sign-in forms. */
async function signedInError(title, e) {
  if (e.status === 401 || e.code === "not_signed_in") {
    renderSignedOut();
    showError("You were signed out.", e);
    return;
  }
  showError(title, e);
}

async function addPasskey(button) {
  const nameInput = $("#add-passkey-name");
  const name = nameInput.value.trim();
  await run(button, async () => {
    const entry = new CeremonyEntry("Adding a passkey: a registration ceremony", "Another passkey for the signed-in account; the ones it has are excluded.");
    try {
      showInfo("Starting…");
      const { transaction_id: transactionId } = await api("POST", "/demo/api/passkeys", {});
      entry.step(
        "The demo backend started a registration",
        h("p", { class: "explain" }, "For the signed-in user (the passkeys they already have go in excludeCredentials). Transaction: ", mono(shorten(transactionId, 28))),
      );
      showInfo("Follow your browser's prompt to create a passkey…");
      const nonce = await client(entry).register(transactionId, name ? { name } : {});
      const confirmed = await api("POST", "/demo/api/passkeys/confirm", { nonce });
      entry.step("The demo backend redeemed the nonce", h("p", { class: "explain" }, "The passkey now belongs to your account."));
      nameInput.value = "";
      const newId = confirmed?.passkey_id ?? confirmed?.passkey?.id;
      await loadAccount({ focusPasskeyId: newId });
      const added = state.passkeys.find((p) => p.id === newId);
      showSuccess(`Added ${added ? `“${added.name}”` : "a passkey"}.`);
      await refreshSessionArea();
    } catch (e) {
      entry.fail(e);
      await signedInError("Could not add a passkey.", e);
    }
  });
}

async function signOut(button) {
  await run(button, async () => {
    try {
      await api("POST", "/demo/api/signout", {});
      renderSignedOut();
      showSuccess("Signed out.");
      $("#signin-button").focus();
    } catch (e) {
      await signedInError("Could not sign out.", e);
    }
  });
}

async function renameNoncePasskey(id, name, button) {
  await run(button, async () => {
    try {
      const answer = await api("PATCH", `/demo/api/passkeys/${encodeURIComponent(id)}`, { name });
      await loadAccount({ focusPasskeyId: id });
      const shown = answer?.passkey?.name ?? answer?.name ?? state.passkeys.find((p) => p.id === id)?.name ?? name;
      showSuccess(`Renamed to “${shown}”.`);
      await refreshSessionArea();
    } catch (e) {
      await signedInError("Could not rename the passkey.", e);
    }
  });
}

async function deleteNoncePasskey(id, button) {
  const passkey = state.passkeys.find((p) => p.id === id);
  await run(button, async () => {
    try {
      await api("DELETE", `/demo/api/passkeys/${encodeURIComponent(id)}`);
      const index = state.passkeys.findIndex((p) => p.id === id);
      const next = state.passkeys[index + 1] ?? state.passkeys[index - 1];
      await loadAccount({ focusPasskeyId: next?.id ?? "-" });
      showSuccess(`Deleted “${passkey?.name ?? id}”.`);
      await refreshSessionArea();
    } catch (e) {
      await signedInError("Could not delete the passkey.", e);
    }
  });
}

/**
 * Both areas can show one user's passkeys: after a change in one, the other reloads its list
 * quietly, so the page never shows two versions of the same passkey.
 */
async function refreshNonceArea() {
  if (state.signedIn) await loadAccount();
}

async function refreshSessionArea() {
  if (!sessionClient.user.isLoaded) return;
  try {
    await sessionClient.user.reload();
    renderSessionPasskeys();
  } catch (e) {
    if (e.code === "invalid_session") renderSessionSignedOut();
  }
}

// ---------------------------------------------------------------------------------------------
// The session area (Clerk style: passkeyd keeps the session). Built on the SDK's session calls
// alone: signIn.passkey(), getToken(), user.load(), user.passkeys, user.createPasskey(),
// passkey.update(), passkey.delete() and signOut().

/** The ceremony entry the session client's ceremonies are drawn into (one action at a time). */
let sessionEntry = null;

const sessionClient = new Passkeyd({
  appId,
  onCeremony: (event) => {
    // The SDK may run a reverification in the middle of another call: say why the prompt opens.
    if (event.context === "reverify" && event.step === "options") {
      showInfo("Confirm it's you: this needs a recent passkey check. Use your passkey in the browser's prompt…");
    }
    sessionEntry?.onCeremony(event);
  },
});

/** Runs a session action with its own ceremony entry (lazy: shown once the authenticator answers). */
async function withSessionEntry(entry, action) {
  sessionEntry = entry;
  try {
    return await action(entry);
  } finally {
    sessionEntry = null;
  }
}

function reverifyEntry() {
  const entry = new CeremonyEntry(
    "Reverification: a passkey check before a sensitive action",
    "passkeyd answered reverification_required, so the SDK ran pk.reverify() (POST /v1/me/reverify/start, navigator.credentials.get(), /finish) and then retried the call.",
  );
  entry.lazy = true;
  return entry;
}

/** The two parts of a JWT that are JSON, decoded for display (the page never verifies it: the backend does). */
function decodeJwt(jwt) {
  const [header, payload] = String(jwt).split(".");
  const part = (text) => JSON.parse(new TextDecoder().decode(base64urlToBuffer(text)));
  return { header: part(header), payload: part(payload) };
}

function claimTime(seconds) {
  if (!Number.isFinite(seconds)) return h("span", {}, "—");
  const date = new Date(seconds * 1000);
  return h("span", {}, h("time", { datetime: date.toISOString() }, timeFormat.format(date)), h("span", { class: "hint-inline" }, ` (${seconds})`));
}

function renderClaims(jwt) {
  const box = $("#session-claims");
  if (!jwt) {
    box.replaceChildren(h("p", { class: "hint" }, "No JWT yet: get one with the button below."));
    return;
  }
  let decoded;
  try {
    decoded = decodeJwt(jwt);
  } catch (e) {
    box.replaceChildren(h("p", { class: "hint" }, `The JWT could not be decoded: ${e.message}`));
    return;
  }
  const { header, payload } = decoded;
  const lifetime = Number.isFinite(payload.exp) && Number.isFinite(payload.iat) ? payload.exp - payload.iat : undefined;
  const row = (claim, value, meaning) => [
    h("dt", {}, h("code", {}, claim)),
    h("dd", { "data-claim": claim }, value, meaning ? h("span", { class: "claim-meaning" }, meaning) : ""),
  ];
  box.replaceChildren(
    h(
      "dl",
      { class: "facts claims-facts" },
      row("sub", mono(String(payload.sub ?? "")), "your user's external_id"),
      row("sid", mono(String(payload.sid ?? "")), "this session"),
      payload.pkid ? row("pkid", mono(String(payload.pkid)), "the passkey that signed in") : [],
      row("aud", mono(String(payload.aud ?? "")), "the app id (the app claim repeats it)"),
      row("iss", mono(String(payload.iss ?? ""))),
      row("iat", claimTime(payload.iat), "issued"),
      row("exp", claimTime(payload.exp), lifetime !== undefined ? `expires ${Math.round(lifetime / 60) >= 1 ? `${Math.round(lifetime / 60)} min` : `${lifetime} s`} after it was issued` : "expires"),
      row("kid", mono(String(header.kid ?? "")), `signing key (${header.alg ?? "?"})`),
    ),
    h(
      "details",
      { class: "raw" },
      h("summary", {}, "The JWT, encoded and decoded"),
      h("pre", { tabindex: "0" }, h("code", { "data-testid": "session-jwt" }, jwt)),
      h("pre", { tabindex: "0" }, h("code", {}, `${pretty(header)}\n${pretty(payload)}`)),
    ),
  );
}

function renderSessionPasskeys(focusPasskeyId) {
  const passkeys = sessionClient.user.passkeys;
  const list = $("#session-passkey-list");
  list.replaceChildren(...passkeys.map((p) => renderPasskey(p, passkeys.length === 1, SESSION_LIST)));
  $("#session-passkey-empty").hidden = passkeys.length > 0;
  if (focusPasskeyId) focusPasskey(list, SESSION_LIST, focusPasskeyId, $("#session-add-passkey"));
}

function renderSession({ focus = false } = {}) {
  const user = sessionClient.user;
  $("#session-username").textContent = user.username ?? user.externalId ?? "";
  renderClaims(sessionClient.session?.jwt);
  renderSessionPasskeys();
  $("#session-signed-out").hidden = true;
  $("#session-signed-in").hidden = false;
  if (focus) $("#session-account-title").focus();
}

function renderSessionSignedOut() {
  $("#session-passkey-list").replaceChildren();
  $("#session-claims").replaceChildren();
  $("#session-signed-in").hidden = true;
  $("#session-signed-out").hidden = false;
}

/** Handles an error of a session action: an ended session goes back to the sign-in button. */
function sessionError(title, e) {
  if (e.code === "invalid_session") {
    renderSessionSignedOut();
    showError("Your session ended.", e);
    return;
  }
  showError(title, e);
}

/** Picks up a session from passkeyd's cookie when the page loads. */
async function loadSession() {
  try {
    await sessionClient.user.load();
    await sessionClient.getToken();
    renderSession();
    return true;
  } catch (e) {
    renderSessionSignedOut();
    if (e.code !== "invalid_session") showError("Could not load your session.", e);
    return false;
  }
}

async function sessionSignIn(button) {
  await run(button, async () => {
    const entry = new CeremonyEntry(
      "Session sign-in: a discoverable authentication",
      "pk.signIn.passkey({ flow: \"discoverable\" }): the ceremony of “Sign in with a passkey”, and passkeyd also starts a session.",
    );
    await withSessionEntry(entry, async () => {
      try {
        showInfo("Choose a passkey in your browser's prompt…");
        await sessionClient.signIn.passkey({ flow: "discoverable" });
        await sessionClient.user.load();
        entry.step(
          "The page loaded the user",
          h("p", { class: "explain" }, "pk.user.load(): GET /v1/me and /v1/me/passkeys, authenticated by the session cookie."),
        );
        renderSession({ focus: true });
        showSuccess(`Signed in with a passkeyd session as ${sessionClient.user.username ?? sessionClient.user.externalId}.`);
      } catch (e) {
        entry.fail(e);
        showError("Could not sign in.", e);
      }
    });
  });
}

async function sessionFreshToken(button) {
  await run(button, async () => {
    try {
      const jwt = await sessionClient.getToken({ skipCache: true });
      renderClaims(jwt);
      showSuccess(`passkeyd issued a new JWT at ${timeFormat.format(new Date())}.`);
    } catch (e) {
      sessionError("Could not get a token.", e);
    }
  });
}

async function sessionAddPasskey(button) {
  const nameInput = $("#session-add-passkey-name");
  const name = nameInput.value.trim();
  await run(button, async () => {
    const entry = new CeremonyEntry(
      "Adding a passkey (session): a registration ceremony",
      "pk.user.createPasskey(): POST /v1/me/passkeys made an unverified passkey holding the creation options; attempt_verification turns it into a passkey.",
    );
    await withSessionEntry(entry, async () => {
      try {
        showInfo("Follow your browser's prompt to create a passkey…");
        const passkey = await sessionClient.user.createPasskey(name ? { name } : {});
        nameInput.value = "";
        renderSessionPasskeys(passkey.id);
        showSuccess(`Added “${passkey.name}”.`);
        await refreshNonceArea();
      } catch (e) {
        entry.fail(e);
        sessionError("Could not add a passkey.", e);
      }
    });
  });
}

async function sessionRenamePasskey(id, name, button) {
  await run(button, async () => {
    await withSessionEntry(reverifyEntry(), async () => {
      try {
        const passkey = sessionClient.user.passkeys.find((p) => p.id === id);
        if (!passkey) throw new PasskeydError("passkey_not_found", FRIENDLY.passkey_not_found);
        await passkey.update({ name });
        renderSessionPasskeys(id);
        showSuccess(`Renamed to “${passkey.name}”.`);
        await refreshNonceArea();
      } catch (e) {
        sessionError("Could not rename the passkey.", e);
      }
    });
  });
}

async function sessionDeletePasskey(id, button) {
  await run(button, async () => {
    await withSessionEntry(reverifyEntry(), async () => {
      const before = sessionClient.user.passkeys;
      const index = before.findIndex((p) => p.id === id);
      const passkey = before[index];
      try {
        if (!passkey) throw new PasskeydError("passkey_not_found", FRIENDLY.passkey_not_found);
        await passkey.delete();
        const next = before[index + 1] ?? before[index - 1];
        renderSessionPasskeys(next?.id ?? "-");
        showSuccess(`Deleted “${passkey.name}”.`);
        await refreshNonceArea();
      } catch (e) {
        // The list may have changed (a passkey already gone leaves it): show what the SDK holds.
        if (e.code !== "invalid_session") renderSessionPasskeys(id);
        sessionError("Could not delete the passkey.", e);
      }
    });
  });
}

async function sessionSignOut(button) {
  await run(button, async () => {
    try {
      await sessionClient.signOut();
      renderSessionSignedOut();
      showSuccess("Signed out: passkeyd revoked the session and cleared its cookie.");
      $("#session-signin-button").focus();
    } catch (e) {
      sessionError("Could not sign out.", e);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Start

function showCapability(id, ok, yes, no) {
  const li = $(id);
  li.dataset.state = ok ? "yes" : "no";
  li.querySelector(".cap-value").textContent = ok ? yes : no;
}

function guard(handler) {
  return (event) => {
    event.preventDefault();
    if (state.busy || event.currentTarget?.getAttribute?.("aria-disabled") === "true") return;
    handler(event.submitter ?? event.currentTarget);
  };
}

async function main() {
  $("#signup-form").addEventListener("submit", guard((b) => signUp(b?.id === "signup-button" ? b : $("#signup-button"))));
  $("#signin-form").addEventListener("submit", guard(() => signInWithUsername($("#signin-username-button"))));
  $("#signin-button").addEventListener("click", guard((b) => signInWithButton(b)));
  $("#add-passkey-form").addEventListener("submit", guard(() => addPasskey($("#add-passkey"))));
  $("#signout").addEventListener("click", guard((b) => signOut(b)));
  wirePasskeyList($("#passkey-list"), NONCE_LIST, {
    name: (id) => state.passkeys.find((p) => p.id === id)?.name,
    rename: renameNoncePasskey,
    remove: deleteNoncePasskey,
  });
  $("#session-jwks-link").href = `/v1/apps/${encodeURIComponent(appId)}/.well-known/jwks.json`;
  $("#session-signin-button").addEventListener("click", guard((b) => sessionSignIn(b)));
  $("#session-token-button").addEventListener("click", guard((b) => sessionFreshToken(b)));
  $("#session-add-form").addEventListener("submit", guard(() => sessionAddPasskey($("#session-add-passkey"))));
  $("#session-signout").addEventListener("click", guard((b) => sessionSignOut(b)));
  wirePasskeyList($("#session-passkey-list"), SESSION_LIST, {
    name: (id) => sessionClient.user.passkeys.find((p) => p.id === id)?.name,
    rename: sessionRenamePasskey,
    remove: sessionDeletePasskey,
  });
  for (const input of document.querySelectorAll("#signup-username, #signin-username")) {
    input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  }

  const webauthn = Passkeyd.isSupported();
  state.capabilities.webauthn = webauthn;
  showCapability("#cap-webauthn", webauthn, "yes", "no");
  if (!webauthn) {
    $("#unsupported").hidden = false;
    showCapability("#cap-platform", false, "", "no");
    showCapability("#cap-autofill", false, "", "no");
    $("#autofill-unavailable").hidden = false;
  } else {
    const probe = new Passkeyd({ appId });
    const [platform, autofill] = await Promise.all([probe.canRegisterPasskey(), probe.canAuthenticateWithPasskey()]);
    state.capabilities.platform = platform;
    state.capabilities.autofill = autofill;
    showCapability("#cap-platform", platform, "yes", "not found: use a phone or a security key");
    showCapability("#cap-autofill", autofill, "yes", "no: use the buttons");
    $("#autofill-hint").hidden = !autofill;
    $("#autofill-unavailable").hidden = autofill;
  }

  const [signedIn] = await Promise.all([loadAccount(), loadSession()]);
  if (!signedIn) startConditional();
  document.documentElement.dataset.ready = "true";
}

main().catch((e) => showError("The demo could not start.", e));
