// @passkeyd/browser: the browser side of passkeyd.
//
// One ES module with no dependencies and no build step. It asks passkeyd for WebAuthn options,
// runs navigator.credentials.create()/get() and sends the credential back. Two ways to use it:
//
//   import { Passkeyd } from "/sdk/passkeyd.js";
//   const pk = new Passkeyd({ appId: "default" });
//
//   // Nonces: your backend starts a transaction and redeems the nonce with its secret key.
//   const nonce = await pk.register(transactionId);
//
//   // Sessions: passkeyd keeps the session (an HttpOnly cookie) and issues short JWTs.
//   const session = await pk.signIn.passkey({ flow: "discoverable" });
//   const jwt = await pk.getToken();
//   await pk.user.load();  // pk.user.passkeys, pk.user.createPasskey(), passkey.update(), passkey.delete()

/** The error every method of the SDK throws. */
export class PasskeydError extends Error {
  /**
   * @param {string} code stable, snake_case
   * @param {string} message for humans
   * @param {{status?: number, requestId?: string, retryAfter?: number, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = "PasskeydError";
    this.code = code;
    if (details.status !== undefined) this.status = details.status;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.retryAfter !== undefined) this.retryAfter = details.retryAfter;
  }
}

// ---------------------------------------------------------------------------------------------
// base64url

/**
 * Decodes base64url (or standard base64; padding optional) into an ArrayBuffer.
 * @param {string} value
 * @returns {ArrayBuffer}
 */
export function base64urlToBuffer(value) {
  if (typeof value !== "string") {
    throw new TypeError(`expected a base64url string, got ${value === null ? "null" : typeof value}`);
  }
  let s = value.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) {
    throw new TypeError(`not base64url: ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value)}`);
  }
  s += "===".slice((s.length + 3) % 4);
  const binary = atob(s);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/**
 * Encodes bytes as base64url without padding.
 * @param {ArrayBuffer | ArrayBufferView} buffer
 * @returns {string}
 */
export function bufferToBase64url(buffer) {
  const bytes = toBytes(buffer);
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function toBytes(buffer) {
  if (buffer instanceof ArrayBuffer) return new Uint8Array(buffer);
  if (ArrayBuffer.isView(buffer)) return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  // ArrayBuffers from another realm (an iframe, node:vm) fail instanceof.
  if (Object.prototype.toString.call(buffer) === "[object ArrayBuffer]") return new Uint8Array(buffer);
  throw new TypeError("expected an ArrayBuffer or a typed array");
}

function isBinary(value) {
  return (
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    Object.prototype.toString.call(value) === "[object ArrayBuffer]"
  );
}

// Extension outputs (prf, largeBlob) may hold ArrayBuffers: JSON carries them as base64url.
function binaryToJSON(value) {
  if (isBinary(value)) return bufferToBase64url(value);
  if (Array.isArray(value)) return value.map(binaryToJSON);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = binaryToJSON(v);
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Options JSON -> the browser's option dictionaries

function descriptorFromJSON(d) {
  return { ...d, id: base64urlToBuffer(d.id) };
}

/**
 * The hand-written equivalent of PublicKeyCredential.parseCreationOptionsFromJSON().
 * @param {object} json PublicKeyCredentialCreationOptionsJSON
 */
export function creationOptionsFromJSON(json) {
  const options = {
    ...json,
    challenge: base64urlToBuffer(json.challenge),
    user: { ...json.user, id: base64urlToBuffer(json.user.id) },
  };
  if (Array.isArray(json.excludeCredentials)) {
    options.excludeCredentials = json.excludeCredentials.map(descriptorFromJSON);
  }
  return options;
}

/**
 * The hand-written equivalent of PublicKeyCredential.parseRequestOptionsFromJSON().
 * @param {object} json PublicKeyCredentialRequestOptionsJSON
 */
export function requestOptionsFromJSON(json) {
  const options = { ...json, challenge: base64urlToBuffer(json.challenge) };
  if (Array.isArray(json.allowCredentials)) {
    options.allowCredentials = json.allowCredentials.map(descriptorFromJSON);
  }
  return options;
}

function parseOptions(kind, json) {
  const PKC = globalThis.PublicKeyCredential;
  const native = kind === "create" ? PKC?.parseCreationOptionsFromJSON : PKC?.parseRequestOptionsFromJSON;
  if (typeof native === "function") {
    try {
      return native.call(PKC, json);
    } catch {
      // An early implementation may refuse a member it does not know; the fallback does not.
    }
  }
  try {
    return kind === "create" ? creationOptionsFromJSON(json) : requestOptionsFromJSON(json);
  } catch (e) {
    throw new PasskeydError("invalid_options", `the server's options could not be read: ${e.message}`, { cause: e });
  }
}

// ---------------------------------------------------------------------------------------------
// PublicKeyCredential -> JSON

/**
 * The hand-written equivalent of PublicKeyCredential.prototype.toJSON(), for a registration
 * (AuthenticatorAttestationResponse) or an authentication (AuthenticatorAssertionResponse).
 * @param {PublicKeyCredential} credential
 */
export function credentialToJSON(credential) {
  const r = credential.response;
  const response = { clientDataJSON: bufferToBase64url(r.clientDataJSON) };
  if (r.attestationObject !== undefined) {
    response.attestationObject = bufferToBase64url(r.attestationObject);
    const authenticatorData = callOptional(r, "getAuthenticatorData");
    if (authenticatorData) response.authenticatorData = bufferToBase64url(authenticatorData);
    const publicKey = callOptional(r, "getPublicKey");
    if (publicKey) response.publicKey = bufferToBase64url(publicKey);
    const publicKeyAlgorithm = callOptional(r, "getPublicKeyAlgorithm");
    if (typeof publicKeyAlgorithm === "number") response.publicKeyAlgorithm = publicKeyAlgorithm;
    const transports = callOptional(r, "getTransports");
    response.transports = Array.isArray(transports) ? [...transports] : [];
  } else {
    response.authenticatorData = bufferToBase64url(r.authenticatorData);
    response.signature = bufferToBase64url(r.signature);
    if (r.userHandle) response.userHandle = bufferToBase64url(r.userHandle);
  }
  const json = {
    id: credential.id,
    rawId: bufferToBase64url(credential.rawId),
    type: credential.type,
    response,
    clientExtensionResults: binaryToJSON(callOptional(credential, "getClientExtensionResults") ?? {}),
  };
  if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
  return json;
}

function callOptional(object, method) {
  if (typeof object?.[method] !== "function") return undefined;
  try {
    return object[method]();
  } catch {
    return undefined; // e.g. getPublicKey() for an algorithm the browser cannot express as SPKI
  }
}

function serializeCredential(credential) {
  if (typeof credential?.toJSON === "function") {
    try {
      const json = credential.toJSON();
      // Some password-manager extensions return a toJSON() whose result lacks the response.
      if (json && typeof json === "object" && json.response && typeof json.id === "string") return json;
    } catch {
      // fall through to the hand-written builder
    }
  }
  return credentialToJSON(credential);
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Maps what navigator.credentials.create()/get() threw to a PasskeydError.
 * @param {unknown} error
 * @param {{ceremony?: "registration"|"authentication", elapsedMs?: number, timeoutMs?: number, aborted?: boolean}} [context]
 * @returns {PasskeydError}
 */
export function mapWebAuthnError(error, context = {}) {
  if (error instanceof PasskeydError) return error;
  const name = error?.name;
  const message = typeof error?.message === "string" && error.message ? error.message : String(error);
  const make = (code, text) => new PasskeydError(code, text, { cause: error });
  if (context.aborted) return make("cancelled", "the ceremony was aborted");
  switch (name) {
    case "NotAllowedError":
      if (
        typeof context.timeoutMs === "number" &&
        typeof context.elapsedMs === "number" &&
        context.elapsedMs >= context.timeoutMs
      ) {
        return make("timeout", `no passkey was chosen within ${Math.round(context.timeoutMs / 1000)} seconds`);
      }
      return make("cancelled", `the ceremony was cancelled or not allowed: ${message}`);
    case "AbortError":
      return make("cancelled", `the ceremony was aborted: ${message}`);
    case "NotSupportedError":
      return make("not_supported", `no authenticator supports what was asked: ${message}`);
    case "ConstraintError":
      return make("not_supported", `the authenticator cannot meet the requirements: ${message}`);
    case "InvalidStateError":
      if (context.ceremony === "registration") {
        return make("already_registered", "this authenticator already holds a passkey for this account");
      }
      return make("webauthn_error", message);
    case "SecurityError":
      return make("invalid_domain", `this page's origin may not use the RP ID: ${message}`);
    default:
      return make("webauthn_error", message);
  }
}

/** The seconds a Retry-After header asks for (delta-seconds or an HTTP date). */
function parseRetryAfter(value) {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

async function errorFromResponse(response) {
  let body;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const err = body && typeof body === "object" ? body.error : undefined;
  const status = response.status;
  const requestId = err?.request_id ?? response.headers?.get?.("x-request-id") ?? undefined;
  const message =
    typeof err?.message === "string" && err.message ? err.message : `the server answered ${status}`;
  if (status === 429) {
    const retryAfter = parseRetryAfter(response.headers?.get?.("retry-after"));
    return new PasskeydError("rate_limited", message, { status, requestId, retryAfter });
  }
  const code = typeof err?.code === "string" && err.code ? err.code : "server_error";
  return new PasskeydError(code, message, { status, requestId });
}

// ---------------------------------------------------------------------------------------------
// The client

const moduleOrigin = (() => {
  try {
    return new URL(import.meta.url).origin;
  } catch {
    return undefined;
  }
})();

function now() {
  return typeof performance !== "undefined" && performance.now ? performance.now() : Date.now();
}

// A cached JWT is replaced this long before it expires, so that a token getToken() hands out
// still has time to reach the app's backend and be checked there.
const TOKEN_LEEWAY_MS = 30_000;

// Only this module holds the key, so apps cannot construct the resource classes themselves: a
// resource made outside the SDK would not be tied to a client and its session.
const INTERNAL = Symbol("passkeyd.internal");

function toDate(value) {
  if (typeof value !== "string" && typeof value !== "number") return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** How long a JWT lives (exp - iat, in ms), or undefined when its payload cannot be read. */
function jwtLifetimeMs(jwt) {
  try {
    const payload = JSON.parse(new TextDecoder().decode(base64urlToBuffer(String(jwt).split(".")[1])));
    if (Number.isFinite(payload?.iat) && Number.isFinite(payload?.exp)) return (payload.exp - payload.iat) * 1000;
  } catch {
    // A token we cannot read is still a token: the server's jwt_expires_at alone then decides.
  }
  return undefined;
}

function sessionFields(view) {
  return {
    id: String(view.id),
    passkeyId: view.passkey_id ?? null,
    createdAt: toDate(view.created_at),
    refreshedAt: toDate(view.refreshed_at),
    verifiedAt: toDate(view.verified_at),
    expiresAt: toDate(view.expires_at),
    userAgent: view.user_agent ?? null,
    clientIp: view.client_ip ?? null,
  };
}

/** The finish answer as onCeremony sees it: without the session token, which is a secret. */
function withoutSessionToken(result) {
  if (!result?.session || typeof result.session !== "object" || !("token" in result.session)) return result;
  const { token: _secret, ...session } = result.session;
  return { ...result, session };
}

function signedOutMeanwhile() {
  return new PasskeydError("invalid_session", "the session ended (sign-out or a new sign-in) while the call was under way");
}

function assignPasskey(resource, json) {
  resource.id = String(json.id);
  resource.state = json.state === "unverified" ? "unverified" : "verified";
  resource.name = json.name ?? null;
  resource.nameIsCustom = json.name_is_custom === true;
  resource.externalId = json.external_id ?? null;
  resource.credentialId = json.credential_id ?? null;
  resource.aaguid = json.aaguid ?? null;
  resource.authenticatorName = json.authenticator_name ?? null;
  resource.authenticatorAttachment = json.authenticator_attachment ?? null;
  resource.transports = Array.isArray(json.transports) ? [...json.transports] : [];
  resource.backupEligible = json.backup_eligible === true;
  resource.backupState = json.backup_state === true;
  resource.userVerified = json.user_verified === true;
  resource.discoverable = typeof json.discoverable === "boolean" ? json.discoverable : null;
  resource.algorithm = typeof json.algorithm === "number" ? json.algorithm : null;
  resource.attestationFormat = json.attestation_format ?? null;
  resource.attestationType = json.attestation_type ?? null;
  resource.signCount = typeof json.sign_count === "number" ? json.sign_count : null;
  resource.createdAt = toDate(json.created_at);
  resource.updatedAt = toDate(json.updated_at);
  resource.lastUsedAt = toDate(json.last_used_at);
  const v = json.verification;
  resource.verification =
    v && typeof v === "object"
      ? {
          status: v.status,
          attempts: v.attempts,
          maxAttempts: v.max_attempts,
          expiresAt: toDate(v.expires_at),
          options: v.options,
        }
      : null;
}

/** One passkey of the signed-in user (`pk.user.passkeys`, `pk.user.createPasskey()`). */
export class PasskeyResource {
  #user;

  constructor(key, user, json) {
    if (key !== INTERNAL) throw new TypeError("PasskeyResource: use pk.user.passkeys or pk.user.createPasskey()");
    this.#user = user;
    assignPasskey(this, json);
  }

  /**
   * Renames the passkey (PATCH /v1/me/passkeys/{id}); `null` restores the generated name.
   * @param {{name: string | null}} params
   * @returns {Promise<PasskeyResource>} this passkey, updated
   */
  async update({ name } = {}) {
    if (name !== null && typeof name !== "string") {
      throw new PasskeydError("invalid_request", "update() needs {name}: a string, or null to restore the generated name");
    }
    const json = await this.#user.request("PATCH", `/passkeys/${encodeURIComponent(this.id)}`, { name });
    assignPasskey(this, json);
    return this;
  }

  /**
   * Deletes the passkey (DELETE /v1/me/passkeys/{id}); it leaves `pk.user.passkeys`.
   * @returns {Promise<{id: string, object: "passkey", deleted: true}>}
   */
  async delete() {
    try {
      await this.#user.request("DELETE", `/passkeys/${encodeURIComponent(this.id)}`);
    } catch (e) {
      // A passkey the server no longer has is gone all the same: the list should not keep it.
      if (e instanceof PasskeydError && e.code === "passkey_not_found") this.#user.forget(this.id);
      throw e;
    }
    this.#user.forget(this.id);
    return { id: this.id, object: "passkey", deleted: true };
  }
}

/** The signed-in user (`pk.user`): empty until `load()`, and emptied again by sign-out. */
export class UserResource {
  #client;
  #passkeys = [];

  constructor(key, client, expose) {
    if (key !== INTERNAL) throw new TypeError("UserResource: use pk.user");
    this.#client = client;
    this.#reset();
    expose({ reset: () => this.#reset() });
  }

  #reset() {
    this.externalId = null;
    this.username = null;
    this.displayName = null;
    this.createdAt = null;
    this.updatedAt = null;
    this.isLoaded = false;
    this.#passkeys = [];
  }

  /** The user's passkeys as last loaded, oldest first (a copy: change them through their methods). */
  get passkeys() {
    return [...this.#passkeys];
  }

  /** Loads the user and their passkeys unless they are loaded already. */
  async load() {
    return this.isLoaded ? this : this.reload();
  }

  /** Loads the user and their passkeys (GET /v1/me and /v1/me/passkeys). */
  async reload() {
    const generation = this.#client.generation();
    const me = await this.#client.request("GET", "");
    const list = await this.#client.request("GET", "/passkeys");
    if (this.#client.generation() !== generation) throw signedOutMeanwhile();
    if (!me?.user || !Array.isArray(list?.data)) {
      throw new PasskeydError("invalid_response", "the server's answer has no user or no passkey list");
    }
    this.#client.applySessionView(me.session);
    this.externalId = me.user.external_id ?? null;
    this.username = me.user.username ?? null;
    this.displayName = me.user.display_name ?? null;
    this.createdAt = toDate(me.user.created_at);
    this.updatedAt = toDate(me.user.updated_at);
    this.#passkeys = list.data.map((json) => this.#resource(json));
    this.isLoaded = true;
    return this;
  }

  /**
   * Adds a passkey: POST /v1/me/passkeys makes it `unverified` with creation options, the browser
   * creates the credential, and attempt_verification turns it into a real passkey.
   * @param {{name?: string, signal?: AbortSignal}} [options]
   * @returns {Promise<PasskeyResource>} the verified passkey, also added to `passkeys`
   */
  async createPasskey({ name, signal } = {}) {
    requireSupport();
    const client = this.#client;
    const body = {};
    if (name !== undefined && name !== null && name !== "") body.name = name;
    const pending = await client.request("POST", "/passkeys", body, { signal });
    const optionsJSON = pending?.verification?.options;
    if (typeof pending?.id !== "string" || !optionsJSON || typeof optionsJSON !== "object") {
      throw new PasskeydError("invalid_response", "the server's answer has no passkey id or creation options");
    }
    const path = `/passkeys/${encodeURIComponent(pending.id)}`;
    let credentialJSON;
    try {
      client.emit("registration", "options", optionsJSON, undefined, "create_passkey");
      credentialJSON = await client.create(optionsJSON, signal);
      client.emit("registration", "response", credentialJSON, undefined, "create_passkey");
    } catch (e) {
      // The browser made nothing, so the pending passkey can go now rather than at its expiry.
      // Only here: once a credential was sent, a DELETE could remove the real passkey if the
      // verification succeeded but its answer was lost.
      client.request("DELETE", path, undefined, { retryAfterReverify: false }).catch(() => {});
      throw e;
    }
    const verified = await client.request("POST", `${path}/attempt_verification`, { credential: credentialJSON });
    if (typeof verified?.id !== "string") throw new PasskeydError("invalid_response", "the server's answer has no passkey");
    const passkey = this.#resource(verified);
    this.#passkeys = [...this.#passkeys.filter((p) => p.id !== passkey.id), passkey];
    client.emit("registration", "result", verified, undefined, "create_passkey");
    return passkey;
  }

  #resource(json) {
    return new PasskeyResource(INTERNAL, {
      request: this.#client.request,
      forget: (id) => {
        this.#passkeys = this.#passkeys.filter((p) => p.id !== id);
      },
    }, json);
  }
}

export class Passkeyd {
  #sessionToken = null;
  #session = null;
  #generation = 0;
  #refreshing = null;
  #reverifying = null;
  #user;
  #userControl;

  /**
   * @param {{appId: string, baseUrl?: string, onCeremony?: (event: object) => void,
   *          session?: "cookie" | "token", autoReverify?: boolean}} config
   */
  constructor({ appId, baseUrl, onCeremony, session = "cookie", autoReverify = true } = {}) {
    if (typeof appId !== "string" || !appId) throw new TypeError("Passkeyd: appId is required");
    const base = baseUrl ?? moduleOrigin;
    if (!base || base === "null") throw new TypeError("Passkeyd: baseUrl is required here");
    if (session !== "cookie" && session !== "token") {
      throw new TypeError('Passkeyd: session is "cookie" (the default) or "token"');
    }
    this.appId = appId;
    this.baseUrl = String(base).replace(/\/+$/, "");
    this.onCeremony = typeof onCeremony === "function" ? onCeremony : undefined;
    this.sessionTransport = session;
    this.autoReverify = autoReverify !== false;
    const client = {
      request: (method, path, body, options) => this.#me(method, path, body, options),
      create: (optionsJSON, signal) => this.#create(optionsJSON, signal),
      emit: (ceremony, step, data, ceremonyId, context) => this.#emit(ceremony, step, data, ceremonyId, context),
      applySessionView: (view) => this.#applySessionView(view),
      generation: () => this.#generation,
    };
    this.#user = new UserResource(INTERNAL, client, (control) => {
      this.#userControl = control;
    });
    this.signIn = Object.freeze({
      /**
       * Signs in with a passkey and starts a passkeyd session.
       * @param {{flow?: "discoverable" | "autofill", signal?: AbortSignal}} [options]
       */
      passkey: (options) => this.#signInWithPasskey(options),
    });
  }

  /** The signed-in user; call `load()` before reading it. */
  get user() {
    return this.#user;
  }

  /** The current session (a snapshot), or null when signed out or not yet known. */
  get session() {
    const s = this.#session;
    if (!s) return null;
    const { jwtRefreshAt: _internal, ...visible } = s;
    return Object.freeze(visible);
  }

  /** Whether this client knows a live session (after a sign-in, `user.load()` or `getToken()`). */
  get isSignedIn() {
    return this.#session !== null;
  }

  /** Whether this browser has WebAuthn at all. */
  static isSupported() {
    const credentials = globalThis.navigator?.credentials;
    return (
      typeof globalThis.PublicKeyCredential === "function" &&
      typeof credentials?.create === "function" &&
      typeof credentials?.get === "function"
    );
  }

  /** Whether the device has a built-in authenticator that verifies the user (Touch ID, Windows Hello...). */
  async canRegisterPasskey() {
    if (!Passkeyd.isSupported()) return false;
    try {
      const check = globalThis.PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable;
      return typeof check === "function" ? (await check.call(globalThis.PublicKeyCredential)) === true : false;
    } catch {
      return false;
    }
  }

  /** Whether the browser offers passkeys in the autofill of a field with autocomplete="username webauthn". */
  async canAuthenticateWithPasskey() {
    if (!Passkeyd.isSupported()) return false;
    try {
      const check = globalThis.PublicKeyCredential.isConditionalMediationAvailable;
      return typeof check === "function" ? (await check.call(globalThis.PublicKeyCredential)) === true : false;
    } catch {
      return false;
    }
  }

  /**
   * Registers a passkey for the user your backend started a transaction for.
   * @param {string} transactionId
   * @param {{name?: string, signal?: AbortSignal}} [options]
   * @returns {Promise<string>} the nonce
   */
  async register(transactionId, { name, signal } = {}) {
    if (typeof transactionId !== "string" || !transactionId) {
      throw new PasskeydError("invalid_request", "register() needs the transaction id your backend got");
    }
    requireSupport();
    const body = { transaction_id: transactionId };
    if (name !== undefined && name !== null && name !== "") body.passkey_name = name;
    const start = await this.#post("registrations/start", body, { signal });
    this.#emit("registration", "options", start.options, start.ceremony_id, "register");
    const credentialJSON = await this.#create(start.options, signal);
    this.#emit("registration", "response", credentialJSON, start.ceremony_id, "register");
    // The nonce is all this flow needs: "none" keeps the server from starting a session that
    // nothing would ever use.
    const result = await this.#post("registrations/finish", {
      ceremony_id: start.ceremony_id,
      credential: credentialJSON,
      session_transport: "none",
    });
    this.#emit("registration", "result", withoutSessionToken(result), start.ceremony_id, "register");
    return nonceOf(result);
  }

  /**
   * Signs a user in. Without transactionId, any passkey of this app may answer (discoverable);
   * with mediation "conditional", the browser offers passkeys in the username field's autofill.
   * @param {{transactionId?: string, mediation?: CredentialMediationRequirement, signal?: AbortSignal}} [options]
   * @returns {Promise<string>} the nonce
   */
  async authenticate({ transactionId, mediation, signal } = {}) {
    const result = await this.#authenticate({ transactionId, mediation, signal, context: "authenticate" });
    return nonceOf(result);
  }

  /**
   * A JWT for the app's backend: the cached one while it has more than ~30 s to live, else a
   * fresh one from POST /v1/me/session/refresh.
   * @param {{skipCache?: boolean}} [options]
   * @returns {Promise<string>}
   */
  async getToken({ skipCache = false } = {}) {
    const s = this.#session;
    if (!skipCache && s?.jwt && Date.now() < s.jwtRefreshAt) return s.jwt;
    if (!this.#refreshing) {
      const generation = this.#generation;
      // Concurrent callers share one refresh rather than each rotating the JWT.
      this.#refreshing = this.#meOnce("POST", "/session/refresh")
        .then((issued) => {
          if (generation !== this.#generation) throw signedOutMeanwhile();
          if (typeof issued?.jwt !== "string" || !issued.session) {
            throw new PasskeydError("invalid_response", "the server's answer has no JWT");
          }
          this.#applyIssued(issued);
          return issued.jwt;
        })
        .finally(() => {
          this.#refreshing = null;
        });
    }
    return this.#refreshing;
  }

  /** Signs out (POST /v1/me/session/signout; the cookie is cleared) and forgets the session. */
  async signOut() {
    try {
      await this.#meOnce("POST", "/session/signout");
    } catch (e) {
      // A session that is already gone is the outcome asked for.
      if (!(e instanceof PasskeydError && e.code === "invalid_session")) throw e;
    }
    this.#clear();
  }

  /**
   * Verifies the user again with one of their passkeys, which allows sensitive actions (deleting
   * a passkey, by default) for the app's reverification window. The SDK calls it by itself when
   * a call answers `reverification_required` (unless `autoReverify` is false).
   * @param {{signal?: AbortSignal}} [options]
   */
  reverify({ signal } = {}) {
    if (!this.#reverifying) {
      // Two calls refused at once need one passkey prompt, not two.
      this.#reverifying = this.#reverification(signal).finally(() => {
        this.#reverifying = null;
      });
    }
    return this.#reverifying;
  }

  async #signInWithPasskey({ flow = "discoverable", signal } = {}) {
    if (flow !== "discoverable" && flow !== "autofill") {
      throw new PasskeydError("invalid_request", `signIn.passkey() takes flow "discoverable" or "autofill", not ${JSON.stringify(flow)}`);
    }
    const tokenMode = this.sessionTransport === "token";
    const result = await this.#authenticate({
      mediation: flow === "autofill" ? "conditional" : undefined,
      signal,
      context: "sign_in",
      finishBody: tokenMode ? { session_transport: "token" } : {},
      // The finish answer carries the Set-Cookie of the session; a fetch without credentials
      // would have the browser drop it.
      credentials: tokenMode ? "omit" : "include",
    });
    const issued = result?.session;
    if (!issued || typeof issued !== "object") {
      throw new PasskeydError(
        "sessions_disabled",
        `app ${this.appId} has no sessions (passkeyd apps update ${this.appId} --sessions on); pk.authenticate() gives a nonce instead`,
      );
    }
    if (typeof issued.jwt !== "string" || typeof issued.session?.id !== "string") {
      throw new PasskeydError("invalid_response", "the server's answer has no JWT or no session");
    }
    if (tokenMode && typeof issued.token !== "string") {
      throw new PasskeydError("invalid_response", "the server's answer has no session token, though the SDK asked for one");
    }
    this.#generation += 1;
    this.#sessionToken = tokenMode ? issued.token : null;
    this.#session = null;
    this.#userControl.reset();
    this.#applyIssued(issued);
    return this.session;
  }

  async #authenticate({ transactionId, mediation, signal, context, finishBody = { session_transport: "none" }, credentials = "omit" }) {
    requireSupport();
    if (mediation === "conditional" && !(await this.canAuthenticateWithPasskey())) {
      throw new PasskeydError("not_supported", "this browser does not offer passkeys in autofill");
    }
    if (signal?.aborted) throw new PasskeydError("cancelled", "the ceremony was aborted");
    const body = {};
    if (transactionId !== undefined && transactionId !== null) body.transaction_id = transactionId;
    if (mediation !== undefined && mediation !== null) body.mediation = mediation;
    const start = await this.#post("authentications/start", body, { signal });
    const optionsJSON = start.options;
    this.#emit("authentication", "options", optionsJSON, start.ceremony_id, context);
    const credentialJSON = await this.#get(optionsJSON, { mediation, signal });
    this.#emit("authentication", "response", credentialJSON, start.ceremony_id, context);

    let result;
    try {
      result = await this.#post(
        "authentications/finish",
        { ceremony_id: start.ceremony_id, credential: credentialJSON, ...finishBody },
        { credentials },
      );
    } catch (e) {
      await forgetUnknownCredential(e, optionsJSON, credentialJSON);
      throw e;
    }
    this.#emit("authentication", "result", withoutSessionToken(result), start.ceremony_id, context);
    return result;
  }

  async #reverification(signal) {
    requireSupport();
    const start = await this.#meOnce("POST", "/reverify/start", undefined, signal);
    const optionsJSON = start?.options;
    if (!optionsJSON || typeof optionsJSON !== "object") {
      throw new PasskeydError("invalid_response", "the server's answer has no request options");
    }
    this.#emit("authentication", "options", optionsJSON, start.ceremony_id, "reverify");
    const credentialJSON = await this.#get(optionsJSON, { signal });
    this.#emit("authentication", "response", credentialJSON, start.ceremony_id, "reverify");
    let view;
    try {
      view = await this.#meOnce("POST", "/reverify/finish", {
        ceremony_id: start.ceremony_id,
        credential: credentialJSON,
      });
    } catch (e) {
      await forgetUnknownCredential(e, optionsJSON, credentialJSON);
      throw e;
    }
    this.#applySessionView(view);
    this.#emit("authentication", "result", view, start.ceremony_id, "reverify");
    return this.session;
  }

  /** navigator.credentials.create() with the server's options; resolves to the credential's JSON. */
  async #create(optionsJSON, signal) {
    const publicKey = parseOptions("create", optionsJSON);
    const started = now();
    let credential;
    try {
      credential = await navigator.credentials.create(signal ? { publicKey, signal } : { publicKey });
    } catch (e) {
      throw mapWebAuthnError(e, {
        ceremony: "registration",
        elapsedMs: now() - started,
        timeoutMs: optionsJSON.timeout,
        aborted: signal?.aborted,
      });
    }
    if (!credential) throw new PasskeydError("cancelled", "the browser returned no credential");
    if (signal?.aborted) throw new PasskeydError("cancelled", "the ceremony was aborted");
    return serializeCredential(credential);
  }

  /** navigator.credentials.get() with the server's options; resolves to the credential's JSON. */
  async #get(optionsJSON, { mediation, signal } = {}) {
    const publicKey = parseOptions("get", optionsJSON);
    const request = { publicKey };
    if (mediation) request.mediation = mediation;
    if (signal) request.signal = signal;
    const started = now();
    let credential;
    try {
      credential = await navigator.credentials.get(request);
    } catch (e) {
      throw mapWebAuthnError(e, {
        ceremony: "authentication",
        elapsedMs: now() - started,
        // The browser does not time a conditional request out.
        timeoutMs: mediation === "conditional" ? undefined : optionsJSON.timeout,
        aborted: signal?.aborted,
      });
    }
    if (!credential) throw new PasskeydError("cancelled", "the browser returned no credential");
    if (signal?.aborted) throw new PasskeydError("cancelled", "the ceremony was aborted");
    return serializeCredential(credential);
  }

  #applySessionView(view) {
    if (!view || typeof view !== "object" || typeof view.id !== "string") return;
    const fields = sessionFields(view);
    if (this.#session?.id === fields.id) {
      Object.assign(this.#session, fields);
    } else {
      // Another session than the one in memory (or none: a page load with the cookie set) has
      // no JWT here yet; getToken() fetches one.
      this.#session = { ...fields, jwt: null, jwtExpiresAt: null, jwtRefreshAt: 0 };
    }
  }

  #applyIssued(issued) {
    this.#applySessionView(issued.session);
    const receivedAt = Date.now();
    const expiresAt = toDate(issued.jwt_expires_at);
    // The JWT's own lifetime, counted on this clock from now, guards against a client clock
    // that runs behind the server's; the server's expiry guards against one that runs ahead.
    // The earlier of the two is safe either way.
    const lifetime = jwtLifetimeMs(issued.jwt);
    const deadlines = [expiresAt?.getTime(), lifetime === undefined ? undefined : receivedAt + lifetime].filter(
      Number.isFinite,
    );
    const deadline = deadlines.length ? Math.min(...deadlines) : receivedAt;
    // Short-lived JWTs (the server allows 30 s) would never be served from the cache with a
    // fixed 30 s margin, so the margin is at most half the remaining life.
    const margin = Math.min(TOKEN_LEEWAY_MS, Math.max(0, deadline - receivedAt) / 2);
    Object.assign(this.#session, { jwt: issued.jwt, jwtExpiresAt: expiresAt, jwtRefreshAt: deadline - margin });
  }

  #clear() {
    this.#generation += 1;
    this.#sessionToken = null;
    this.#session = null;
    this.#userControl.reset();
  }

  #emit(ceremony, step, data, ceremonyId, context) {
    if (!this.onCeremony) return;
    try {
      this.onCeremony({ ceremony, step, data, ceremonyId, context });
    } catch (e) {
      // A hook's bug must not break the sign-in.
      globalThis.console?.error?.("passkeyd: onCeremony threw", e);
    }
  }

  /** A /v1/me call that, when refused with reverification_required, verifies the user and retries once. */
  async #me(method, path, body, { signal, retryAfterReverify = this.autoReverify } = {}) {
    try {
      return await this.#meOnce(method, path, body, signal);
    } catch (e) {
      if (!retryAfterReverify || !(e instanceof PasskeydError) || e.code !== "reverification_required") throw e;
      await this.reverify({ signal });
      return this.#meOnce(method, path, body, signal);
    }
  }

  async #meOnce(method, path, body, signal) {
    const headers = { Accept: "application/json" };
    const tokenMode = this.sessionTransport === "token";
    if (tokenMode) {
      if (!this.#sessionToken) {
        throw new PasskeydError("invalid_session", "not signed in: pk.signIn.passkey() first (the session token is kept in memory only)");
      }
      headers.Authorization = `Bearer ${this.#sessionToken}`;
    }
    const init = {
      method,
      // The session cookie is HttpOnly and for passkeyd's origin: only a credentialed fetch
      // carries it, same-origin or not.
      credentials: tokenMode ? "omit" : "include",
      headers,
    };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const generation = this.#generation;
    try {
      return await this.#send(`${this.baseUrl}/v1/me${path}`, init, signal);
    } catch (e) {
      // The server no longer knows the session: forget it here too, unless a new sign-in has
      // replaced it while this call was under way.
      if (e instanceof PasskeydError && e.code === "invalid_session" && generation === this.#generation) this.#clear();
      throw e;
    }
  }

  async #post(path, body, { signal, credentials = "omit" } = {}) {
    const url = `${this.baseUrl}/v1/apps/${encodeURIComponent(this.appId)}/${path}`;
    return this.#send(
      url,
      {
        method: "POST",
        credentials,
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      },
      signal,
    );
  }

  async #send(url, init, signal) {
    let response;
    try {
      response = await fetch(url, { ...init, signal });
    } catch (e) {
      if (signal?.aborted || e?.name === "AbortError") {
        throw new PasskeydError("cancelled", "the ceremony was aborted", { cause: e });
      }
      throw new PasskeydError("network", `passkeyd could not be reached at ${this.baseUrl}: ${e?.message ?? e}`, {
        cause: e,
      });
    }
    if (!response.ok) throw await errorFromResponse(response);
    if (response.status === 204) return null;
    try {
      return await response.json();
    } catch (e) {
      throw new PasskeydError("invalid_response", `the server's answer was not JSON (status ${response.status})`, {
        status: response.status,
        cause: e,
      });
    }
  }
}

function requireSupport() {
  if (!Passkeyd.isSupported()) {
    throw new PasskeydError("not_supported", "this browser does not support passkeys (WebAuthn)");
  }
}

function nonceOf(result) {
  if (typeof result?.nonce !== "string") {
    throw new PasskeydError("invalid_response", "the server's answer has no nonce");
  }
  return result.nonce;
}

/** When the server no longer knows a passkey, tells the browser, so the device stops offering it. */
async function forgetUnknownCredential(error, optionsJSON, credentialJSON) {
  if (!(error instanceof PasskeydError) || error.code !== "unknown_credential") return;
  const signal = globalThis.PublicKeyCredential?.signalUnknownCredential;
  const rpId = optionsJSON?.rpId ?? globalThis.location?.hostname;
  const credentialId = credentialJSON?.id;
  if (typeof signal !== "function" || !rpId || !credentialId) return;
  try {
    await signal.call(globalThis.PublicKeyCredential, { rpId, credentialId });
  } catch {
    // The signal is a courtesy to the password manager; the error that matters is the server's.
  }
}
