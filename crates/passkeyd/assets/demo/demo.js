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
    e.message && e.message !== friendly ? ` ${e.message}` : "",
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
  async onCeremony({ ceremony, step, data }) {
    this.ceremony = ceremony;
    if (step === "options") {
      this.options = data;
      this.step(
        ceremony === "registration" ? "passkeyd sent creation options" : "passkeyd sent request options",
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
      this.step(
        "passkeyd verified it",
        h(
          "div",
          {},
          h(
            "p",
            { class: "explain" },
            ceremony === "registration"
              ? "It checked the client data, the RP ID hash, the flags and the attestation, and stored the public key. "
              : "It checked the client data, the RP ID hash, the flags, the signature and the counter. ",
            "The browser gets only a one-time nonce: the backend redeems it with its secret key to learn the verified result.",
          ),
          facts([["nonce", mono(shorten(data?.nonce, 40))]]),
        ),
      );
    }
  }
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

const ACTION_SELECTOR = "#signup-button, #signin-button, #signin-username-button, #add-passkey, #signout, #passkey-list button";

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
      state.conditionalFailures = 0;
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
// The signed-in area

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

function timeNode(iso, fallback) {
  if (!iso) return h("span", {}, fallback);
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h("span", {}, iso);
  return h("time", { datetime: iso }, dateFormat.format(date));
}

function syncBadge(passkey) {
  if (passkey.backup_state) return h("span", { class: "badge badge-synced", "data-testid": "sync-state" }, "Synced");
  if (passkey.backup_eligible) return h("span", { class: "badge badge-eligible", "data-testid": "sync-state" }, "Can sync, not synced yet");
  return h("span", { class: "badge badge-device", "data-testid": "sync-state" }, "Device-bound");
}

function renderPasskey(passkey, only) {
  const nameId = `pk-name-${passkey.id}`;
  const renameInputId = `pk-rename-${passkey.id}`;
  const model = passkey.authenticator_name || "Unknown authenticator";
  return h(
    "li",
    { class: "passkey", "data-passkey-id": passkey.id, "aria-labelledby": nameId },
    h(
      "div",
      { class: "passkey-main" },
      h("p", { class: "passkey-name", id: nameId, "data-testid": "passkey-name" }, passkey.name),
      h("p", { class: "passkey-meta" }, h("span", { "data-testid": "authenticator-name" }, model), " ", syncBadge(passkey)),
      h(
        "p",
        { class: "passkey-dates" },
        "Created ",
        timeNode(passkey.created_at, "—"),
        h("span", { "aria-hidden": "true" }, " · "),
        h("br", { class: "narrow-only" }),
        "Last used ",
        timeNode(passkey.last_used_at, "never"),
      ),
    ),
    h(
      "div",
      { class: "passkey-actions" },
      h("button", { class: "button small", type: "button", "data-action": "rename", "aria-describedby": nameId }, "Rename"),
      h("button", { class: "button small danger", type: "button", "data-action": "delete", "aria-describedby": nameId }, "Delete"),
    ),
    h(
      "form",
      { class: "passkey-rename inline-panel", hidden: true, novalidate: true },
      h("label", { for: renameInputId }, "New name"),
      h("div", { class: "inline-row" },
        h("input", { id: renameInputId, name: "name", type: "text", maxlength: "64", autocomplete: "off", value: passkey.name, "aria-describedby": `${renameInputId}-hint`, "data-testid": "rename-input" }),
        h("button", { class: "button small primary", type: "submit", "data-action": "save" }, "Save"),
        h("button", { class: "button small", type: "button", "data-action": "cancel-rename" }, "Cancel"),
      ),
      h("p", { class: "hint", id: `${renameInputId}-hint` }, "Up to 64 characters. Esc cancels."),
    ),
    h(
      "div",
      { class: "passkey-confirm inline-panel", hidden: true, role: "group", "aria-label": `Delete ${passkey.name}?` },
      h(
        "p",
        {},
        only
          ? "This is your only passkey: without it you cannot sign in to this account again."
          : "passkeyd will forget it. Your device may still offer it: if you try it, passkeyd answers unknown_credential and the SDK tells your browser to drop it.",
      ),
      h("div", { class: "inline-row" },
        h("button", { class: "button small danger-solid", type: "button", "data-action": "confirm-delete" }, "Delete passkey"),
        h("button", { class: "button small", type: "button", "data-action": "cancel-delete" }, "Keep it"),
      ),
    ),
  );
}

function renderAccount(me, focusPasskeyId) {
  state.signedIn = true;
  state.passkeys = me.passkeys ?? [];
  $("#account-username").textContent = me.user?.username ?? me.user?.external_id ?? "";
  const list = $("#passkey-list");
  list.replaceChildren(...state.passkeys.map((p) => renderPasskey(p, state.passkeys.length === 1)));
  $("#passkey-empty").hidden = state.passkeys.length > 0;
  $("#signed-out").hidden = true;
  $("#signed-in").hidden = false;
  if (focusPasskeyId) {
    const button = list.querySelector(`li[data-passkey-id="${CSS.escape(focusPasskeyId)}"] [data-action=rename]`);
    (button ?? $("#add-passkey")).focus();
  }
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
        h("p", { class: "explain" }, "For the signed-in user, with the passkeys they already have in excludeCredentials: ", mono(shorten(transactionId, 28))),
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

function closeInlinePanels(li) {
  li.querySelector(".passkey-rename").hidden = true;
  li.querySelector(".passkey-confirm").hidden = true;
  li.querySelector(".passkey-actions").hidden = false;
}

async function onPasskeyListClick(event) {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const li = button.closest("li[data-passkey-id]");
  if (!li) return;
  const id = li.dataset.passkeyId;
  const action = button.dataset.action;
  if (action === "save") return; // the form's submit handler saves
  event.preventDefault();
  if (state.busy) return;
  const passkey = state.passkeys.find((p) => p.id === id);
  if (action === "rename") {
    closeInlinePanels(li);
    li.querySelector(".passkey-actions").hidden = true;
    const form = li.querySelector(".passkey-rename");
    form.hidden = false;
    const input = form.querySelector("input");
    input.value = passkey?.name ?? "";
    input.focus();
    input.select();
  } else if (action === "delete") {
    closeInlinePanels(li);
    li.querySelector(".passkey-actions").hidden = true;
    li.querySelector(".passkey-confirm").hidden = false;
    li.querySelector("[data-action=confirm-delete]").focus();
  } else if (action === "cancel-rename" || action === "cancel-delete") {
    closeInlinePanels(li);
    li.querySelector("[data-action=rename]").focus();
  } else if (action === "confirm-delete") {
    await run(button, async () => {
      try {
        await api("DELETE", `/demo/api/passkeys/${encodeURIComponent(id)}`);
        const index = state.passkeys.findIndex((p) => p.id === id);
        const next = state.passkeys[index + 1] ?? state.passkeys[index - 1];
        await loadAccount({ focusPasskeyId: next?.id ?? "-" });
        showSuccess(`Deleted “${passkey?.name ?? id}”.`);
      } catch (e) {
        await signedInError("Could not delete the passkey.", e);
      }
    });
  }
}

async function onRenameSubmit(event) {
  const form = event.target.closest(".passkey-rename");
  if (!form) return;
  event.preventDefault();
  const li = form.closest("li[data-passkey-id]");
  const id = li.dataset.passkeyId;
  const input = form.querySelector("input");
  const name = input.value.trim();
  if (!name) {
    input.setAttribute("aria-invalid", "true");
    input.focus();
    setStatus("error", "Enter a name for the passkey.");
    return;
  }
  input.removeAttribute("aria-invalid");
  await run(form.querySelector("[data-action=save]"), async () => {
    try {
      const answer = await api("PATCH", `/demo/api/passkeys/${encodeURIComponent(id)}`, { name });
      await loadAccount({ focusPasskeyId: id });
      const shown = answer?.passkey?.name ?? answer?.name ?? state.passkeys.find((p) => p.id === id)?.name ?? name;
      showSuccess(`Renamed to “${shown}”.`);
    } catch (e) {
      await signedInError("Could not rename the passkey.", e);
    }
  });
}

function onPasskeyListKeydown(event) {
  if (event.key !== "Escape") return;
  const li = event.target.closest("li[data-passkey-id]");
  if (!li || (li.querySelector(".passkey-rename").hidden && li.querySelector(".passkey-confirm").hidden)) return;
  event.preventDefault();
  closeInlinePanels(li);
  li.querySelector("[data-action=rename]").focus();
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
  const list = $("#passkey-list");
  list.addEventListener("click", onPasskeyListClick);
  list.addEventListener("submit", onRenameSubmit);
  list.addEventListener("keydown", onPasskeyListKeydown);
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
  } else {
    const probe = new Passkeyd({ appId });
    const [platform, autofill] = await Promise.all([probe.canRegisterPasskey(), probe.canAuthenticateWithPasskey()]);
    state.capabilities.platform = platform;
    state.capabilities.autofill = autofill;
    showCapability("#cap-platform", platform, "yes", "not found: use a phone or a security key");
    showCapability("#cap-autofill", autofill, "yes", "no: use the buttons");
    $("#autofill-hint").hidden = !autofill;
  }

  const signedIn = await loadAccount();
  if (!signedIn) startConditional();
  document.documentElement.dataset.ready = "true";
}

main().catch((e) => showError("The demo could not start.", e));
