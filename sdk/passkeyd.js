// @passkeyd/browser: the browser side of passkeyd's public ceremony endpoints.
//
// One ES module with no dependencies and no build step. It asks passkeyd for WebAuthn options,
// runs navigator.credentials.create()/get(), sends the credential back, and returns the nonce
// that your backend exchanges for the verified result.
//
//   import { Passkeyd } from "/sdk/passkeyd.js";
//   const pk = new Passkeyd({ appId: "default" });
//   const nonce = await pk.register(transactionId);

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

export class Passkeyd {
  /**
   * @param {{appId: string, baseUrl?: string, onCeremony?: (event: object) => void}} config
   */
  constructor({ appId, baseUrl, onCeremony } = {}) {
    if (typeof appId !== "string" || !appId) throw new TypeError("Passkeyd: appId is required");
    const base = baseUrl ?? moduleOrigin;
    if (!base || base === "null") throw new TypeError("Passkeyd: baseUrl is required here");
    this.appId = appId;
    this.baseUrl = String(base).replace(/\/+$/, "");
    this.onCeremony = typeof onCeremony === "function" ? onCeremony : undefined;
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
    const start = await this.#post("registrations/start", body, signal);
    const optionsJSON = start.options;
    this.#emit("registration", "options", optionsJSON, start);

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
    const credentialJSON = serializeCredential(credential);
    this.#emit("registration", "response", credentialJSON, start);

    const result = await this.#post("registrations/finish", {
      ceremony_id: start.ceremony_id,
      credential: credentialJSON,
    });
    this.#emit("registration", "result", result, start);
    return nonceOf(result);
  }

  /**
   * Signs a user in. Without transactionId, any passkey of this app may answer (discoverable);
   * with mediation "conditional", the browser offers passkeys in the username field's autofill.
   * @param {{transactionId?: string, mediation?: CredentialMediationRequirement, signal?: AbortSignal}} [options]
   * @returns {Promise<string>} the nonce
   */
  async authenticate({ transactionId, mediation, signal } = {}) {
    requireSupport();
    if (mediation === "conditional" && !(await this.canAuthenticateWithPasskey())) {
      throw new PasskeydError("not_supported", "this browser does not offer passkeys in autofill");
    }
    if (signal?.aborted) throw new PasskeydError("cancelled", "the ceremony was aborted");
    const body = {};
    if (transactionId !== undefined && transactionId !== null) body.transaction_id = transactionId;
    if (mediation !== undefined && mediation !== null) body.mediation = mediation;
    const start = await this.#post("authentications/start", body, signal);
    const optionsJSON = start.options;
    this.#emit("authentication", "options", optionsJSON, start);

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
    const credentialJSON = serializeCredential(credential);
    this.#emit("authentication", "response", credentialJSON, start);

    let result;
    try {
      result = await this.#post("authentications/finish", {
        ceremony_id: start.ceremony_id,
        credential: credentialJSON,
      });
    } catch (e) {
      if (e instanceof PasskeydError && e.code === "unknown_credential") {
        await signalUnknownCredential(optionsJSON.rpId ?? globalThis.location?.hostname, credentialJSON.id);
      }
      throw e;
    }
    this.#emit("authentication", "result", result, start);
    return nonceOf(result);
  }

  #emit(ceremony, step, data, start) {
    if (!this.onCeremony) return;
    try {
      this.onCeremony({ ceremony, step, data, ceremonyId: start?.ceremony_id });
    } catch (e) {
      // A hook's bug must not break the sign-in.
      globalThis.console?.error?.("passkeyd: onCeremony threw", e);
    }
  }

  async #post(path, body, signal) {
    const url = `${this.baseUrl}/v1/apps/${encodeURIComponent(this.appId)}/${path}`;
    let response;
    try {
      response = await fetch(url, {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        signal,
      });
    } catch (e) {
      if (signal?.aborted || e?.name === "AbortError") {
        throw new PasskeydError("cancelled", "the ceremony was aborted", { cause: e });
      }
      throw new PasskeydError("network", `passkeyd could not be reached at ${this.baseUrl}: ${e?.message ?? e}`, {
        cause: e,
      });
    }
    if (!response.ok) throw await errorFromResponse(response);
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

async function signalUnknownCredential(rpId, credentialId) {
  const signal = globalThis.PublicKeyCredential?.signalUnknownCredential;
  if (typeof signal !== "function" || !rpId || !credentialId) return;
  try {
    await signal.call(globalThis.PublicKeyCredential, { rpId, credentialId });
  } catch {
    // The signal is a courtesy to the password manager; the error that matters is the server's.
  }
}
