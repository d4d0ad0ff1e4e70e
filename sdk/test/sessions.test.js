// Unit tests for the session API of passkeyd.js (signIn, user, passkeys, getToken, reverification,
// signOut) against a stubbed fetch and navigator.credentials: node --test sdk/test/ (no install).

import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { Passkeyd, PasskeydError, PasskeyResource, UserResource, bufferToBase64url } from "../passkeyd.js";

const BASE = "https://pk.example";
const bytes = (...b) => new Uint8Array(b).buffer;
const b64json = (value) => bufferToBase64url(new TextEncoder().encode(JSON.stringify(value)));

/** A JWT-shaped string whose payload has the given iat and exp (the SDK never checks signatures). */
function jwt(iat, exp, extra = {}) {
  return `${b64json({ alg: "ES256", kid: "kid_1" })}.${b64json({ sub: "user-42", sid: "ses_1", iat, exp, ...extra })}.c2ln`;
}

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0); // the stubbed clock's start, in ms
const iso = (ms) => new Date(ms).toISOString();

function sessionView(overrides = {}) {
  return {
    id: "ses_1",
    passkey_id: "pk_1",
    created_at: iso(T0),
    refreshed_at: iso(T0),
    verified_at: iso(T0),
    expires_at: iso(T0 + 7 * 86400_000),
    user_agent: "test",
    client_ip: "127.0.0.1",
    ...overrides,
  };
}

/** The `session` member of a finish answer or a refresh answer, for a JWT issued at `issuedMs`. */
function issued(issuedMs, { ttl = 300, token, session = {} } = {}) {
  const iat = Math.floor(issuedMs / 1000);
  const out = { jwt: jwt(iat, iat + ttl), jwt_expires_at: iso((iat + ttl) * 1000), session: sessionView(session) };
  if (token !== undefined) out.token = token;
  return out;
}

function passkeyJSON(id, overrides = {}) {
  return {
    state: "verified",
    id,
    external_id: "user-42",
    name: `Passkey ${id}`,
    name_is_custom: false,
    credential_id: `cred_${id}`,
    aaguid: "00000000-0000-0000-0000-000000000000",
    authenticator_name: "iCloud Keychain",
    transports: ["internal", "hybrid"],
    backup_eligible: true,
    backup_state: true,
    user_verified: true,
    discoverable: true,
    authenticator_attachment: "platform",
    attestation_format: "none",
    attestation_type: "none",
    algorithm: -7,
    sign_count: 0,
    created_at: iso(T0),
    updated_at: iso(T0),
    last_used_at: null,
    ...overrides,
  };
}

const requestOptions = { challenge: "Y2hhbGxlbmdl", rpId: "example.com", timeout: 60000, userVerification: "preferred" };
const creationOptions = {
  rp: { id: "example.com", name: "Example" },
  user: { id: "dXNlcg", name: "ada", displayName: "ada" },
  challenge: "Y2hhbGxlbmdl",
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  timeout: 60000,
};

const assertion = () => ({
  id: "BAUG",
  rawId: bytes(4, 5, 6),
  type: "public-key",
  getClientExtensionResults: () => ({}),
  response: { clientDataJSON: bytes(1), authenticatorData: bytes(2), signature: bytes(3), userHandle: bytes(7) },
});

const attestation = () => ({
  id: "AQID",
  rawId: bytes(1, 2, 3),
  type: "public-key",
  getClientExtensionResults: () => ({}),
  response: { clientDataJSON: bytes(1), attestationObject: bytes(2), getTransports: () => ["internal"] },
});

// ---------------------------------------------------------------------------------------------
// The stubbed browser and server

const realFetch = globalThis.fetch;
const navigatorDescriptor = Object.getOwnPropertyDescriptor(globalThis, "navigator");

function installBrowser({ create = attestation, get = assertion } = {}) {
  const calls = { create: [], get: [], signalUnknownCredential: [] };
  globalThis.PublicKeyCredential = Object.assign(function PublicKeyCredential() {}, {
    isUserVerifyingPlatformAuthenticatorAvailable: async () => true,
    isConditionalMediationAvailable: async () => true,
    signalUnknownCredential: async (arg) => {
      calls.signalUnknownCredential.push(arg);
    },
  });
  Object.defineProperty(globalThis, "navigator", {
    configurable: true,
    writable: true,
    value: {
      credentials: {
        create: async (arg) => {
          calls.create.push(arg);
          return create(arg);
        },
        get: async (arg) => {
          calls.get.push(arg);
          return get(arg);
        },
      },
    },
  });
  return calls;
}

/**
 * Routes "METHOD /path" to a handler, or to a list of handlers used one per call (the last one
 * repeats). Every request is recorded with its parsed body.
 */
function installServer(routes) {
  const requests = [];
  const used = {};
  globalThis.fetch = async (url, init) => {
    const path = new URL(url).pathname;
    const key = `${init.method} ${path}`;
    const request = { key, url, path, init, body: init.body ? JSON.parse(init.body) : undefined };
    requests.push(request);
    let handler = routes[key];
    if (Array.isArray(handler)) {
      const n = (used[key] = (used[key] ?? 0) + 1);
      handler = handler[Math.min(n, handler.length) - 1];
    }
    if (!handler) return json(404, { error: { code: "route_not_found", message: key, request_id: "r0" } });
    return typeof handler === "function" ? handler(request) : handler;
  };
  return requests;
}

function json(status, body, headers = {}) {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

const refused = (status, code, message = code) => () =>
  json(status, { error: { code, message, request_id: `req_${code}` } });

/** The public sign-in endpoints, finishing with `finish` (a session by default). */
function signInRoutes(finish = () => json(200, { nonce: "nonce_1", session: issued(Date.now()) })) {
  return {
    "POST /v1/apps/default/authentications/start": () =>
      json(200, { ceremony_id: "cer_1", options: requestOptions, expires_at: "x" }),
    "POST /v1/apps/default/authentications/finish": finish,
  };
}

const meRoutes = {
  "GET /v1/me": () =>
    json(200, {
      user: { external_id: "user-42", username: "ada", display_name: "Ada", created_at: iso(T0), updated_at: iso(T0) },
      session: sessionView(),
    }),
  "GET /v1/me/passkeys": () => json(200, { data: [passkeyJSON("pk_1"), passkeyJSON("pk_2", { name: "Work key" })] }),
};

const reverifyRoutes = {
  "POST /v1/me/reverify/start": () => json(200, { ceremony_id: "cer_rv", options: requestOptions, expires_at: "x" }),
  "POST /v1/me/reverify/finish": () => json(200, sessionView({ verified_at: iso(T0 + 600_000) })),
};

/** A client signed in through the stubbed server (cookie mode unless said otherwise). */
async function signedIn(config = {}, routes = {}) {
  const requests = installServer({ ...signInRoutes(), ...meRoutes, ...reverifyRoutes, ...routes });
  const pk = new Passkeyd({ appId: "default", baseUrl: BASE, ...config });
  await pk.signIn.passkey({ flow: "discoverable" });
  requests.length = 0;
  return { pk, requests };
}

describe("sessions", () => {
  let clock;
  beforeEach((t) => {
    clock = T0;
    t.mock.method(Date, "now", () => clock);
    installBrowser();
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
    delete globalThis.PublicKeyCredential;
    if (navigatorDescriptor) Object.defineProperty(globalThis, "navigator", navigatorDescriptor);
    else delete globalThis.navigator;
  });

  // -------------------------------------------------------------------------------------------
  test("signIn.passkey (discoverable): the finish is credentialed, the session is returned and kept", async () => {
    const calls = installBrowser();
    const requests = installServer(signInRoutes());
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    assert.equal(pk.isSignedIn, false);
    assert.equal(pk.session, null);

    const session = await pk.signIn.passkey({ flow: "discoverable" });

    assert.deepEqual(requests[0].body, {}, "a discoverable start names no user");
    assert.equal(requests[0].init.credentials, "omit", "the start needs no cookie");
    assert.equal(requests[1].init.credentials, "include", "the finish must store the Set-Cookie");
    assert.equal(requests[1].body.ceremony_id, "cer_1");
    assert.equal("session_transport" in requests[1].body, false, "cookie is the server's default");
    assert.equal(calls.get[0].mediation, undefined);

    assert.equal(session.id, "ses_1");
    assert.equal(session.jwt, issued(T0).jwt);
    assert.ok(session.jwtExpiresAt instanceof Date);
    assert.equal(session.jwtExpiresAt.getTime(), T0 + 300_000);
    assert.equal(session.passkeyId, "pk_1");
    assert.equal(session.expiresAt.getTime(), T0 + 7 * 86400_000);
    assert.equal("jwtRefreshAt" in session, false, "internal bookkeeping stays internal");
    assert.ok(Object.isFrozen(session));
    assert.equal(pk.isSignedIn, true);
    assert.deepEqual(pk.session, session);
  });

  test("signIn.passkey (autofill) is a conditional request", async () => {
    const calls = installBrowser();
    const requests = installServer(signInRoutes());
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    const controller = new AbortController();
    await pk.signIn.passkey({ flow: "autofill", signal: controller.signal });
    assert.deepEqual(requests[0].body, { mediation: "conditional" });
    assert.equal(calls.get[0].mediation, "conditional");
    assert.equal(calls.get[0].signal, controller.signal);
  });

  test("signIn.passkey: an app without sessions is sessions_disabled; a wrong flow is refused before any call", async () => {
    const requests = installServer(signInRoutes(() => json(200, { nonce: "nonce_1" })));
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    await assert.rejects(pk.signIn.passkey({ flow: "discoverable" }), (e) => {
      assert.ok(e instanceof PasskeydError);
      assert.equal(e.code, "sessions_disabled");
      return true;
    });
    assert.equal(pk.isSignedIn, false);
    requests.length = 0;
    await assert.rejects(pk.signIn.passkey({ flow: "popup" }), { code: "invalid_request" });
    assert.equal(requests.length, 0);
  });

  test("signIn.passkey: the server's refusal comes through with its code", async () => {
    installServer(signInRoutes(refused(422, "signature_invalid", "the signature does not verify")));
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    await assert.rejects(pk.signIn.passkey({ flow: "discoverable" }), {
      code: "signature_invalid",
      status: 422,
      requestId: "req_signature_invalid",
    });
    assert.equal(pk.isSignedIn, false);
  });

  // -------------------------------------------------------------------------------------------
  test("getToken: served from memory until ~30 s before expiry, then refreshed", async () => {
    const refreshed = issued(T0 + 280_000);
    const { pk, requests } = await signedIn({}, { "POST /v1/me/session/refresh": () => json(200, refreshed) });
    const first = pk.session.jwt;

    clock = T0 + 200_000;
    assert.equal(await pk.getToken(), first);
    clock = T0 + 269_000;
    assert.equal(await pk.getToken(), first, "31 s left: still cached");
    assert.equal(requests.length, 0);

    clock = T0 + 271_000;
    assert.equal(await pk.getToken(), refreshed.jwt, "29 s left: refreshed");
    assert.equal(requests.length, 1);
    assert.equal(requests[0].key, "POST /v1/me/session/refresh");
    assert.equal(requests[0].init.credentials, "include");
    assert.equal(pk.session.jwt, refreshed.jwt);
    assert.equal(pk.session.jwtExpiresAt.getTime(), (Math.floor((T0 + 280_000) / 1000) + 300) * 1000);

    assert.equal(await pk.getToken(), refreshed.jwt, "the new one is cached in turn");
    assert.equal(requests.length, 1);
  });

  test("getToken: skipCache refreshes; concurrent callers share one refresh", async () => {
    let n = 0;
    const { pk, requests } = await signedIn(
      {},
      { "POST /v1/me/session/refresh": () => json(200, { ...issued(Date.now()), jwt: jwt(1, 301, { n: ++n }) }) },
    );
    const [a, b, c] = await Promise.all([
      pk.getToken({ skipCache: true }),
      pk.getToken({ skipCache: true }),
      pk.getToken({ skipCache: true }),
    ]);
    assert.equal(requests.length, 1);
    assert.equal(a, b);
    assert.equal(b, c);
    await pk.getToken({ skipCache: true });
    assert.equal(requests.length, 2);
  });

  test("getToken: a client clock behind the server's still refreshes in time (the JWT's own lifetime counts)", async () => {
    // The server's clock is 10 minutes ahead: by the client's clock its jwt_expires_at is far off.
    const serverNow = T0 + 600_000;
    const { pk, requests } = await signedIn(
      {},
      {
        "POST /v1/apps/default/authentications/finish": () => json(200, { nonce: "n", session: issued(serverNow) }),
        "POST /v1/me/session/refresh": () => json(200, issued(serverNow + 290_000)),
      },
    );
    clock = T0 + 271_000;
    await pk.getToken();
    assert.equal(requests.length, 1, "refreshed 29 s before the JWT's lifetime ends on this clock");
  });

  test("getToken: short-lived JWTs are still cached for half their life", async () => {
    const { pk, requests } = await signedIn(
      {},
      {
        "POST /v1/apps/default/authentications/finish": () => json(200, { nonce: "n", session: issued(T0, { ttl: 30 }) }),
        "POST /v1/me/session/refresh": () => json(200, issued(T0 + 16_000, { ttl: 30 })),
      },
    );
    clock = T0 + 14_000;
    await pk.getToken();
    assert.equal(requests.length, 0);
    clock = T0 + 16_000;
    await pk.getToken();
    assert.equal(requests.length, 1);
  });

  test("getToken after the session ended: invalid_session, and the client is signed out", async () => {
    const { pk } = await signedIn({}, { "POST /v1/me/session/refresh": refused(401, "invalid_session", "no live session") });
    await assert.rejects(pk.getToken({ skipCache: true }), (e) => {
      assert.ok(e instanceof PasskeydError);
      assert.equal(e.code, "invalid_session");
      assert.equal(e.status, 401);
      return true;
    });
    assert.equal(pk.isSignedIn, false);
    assert.equal(pk.session, null);
  });

  test("getToken on a fresh page asks the server: the cookie may hold a session", async () => {
    const requests = installServer({ "POST /v1/me/session/refresh": () => json(200, issued(T0)) });
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    assert.equal(await pk.getToken(), issued(T0).jwt);
    assert.equal(requests[0].init.credentials, "include");
    assert.equal(pk.isSignedIn, true);
    assert.equal(pk.session.id, "ses_1");
  });

  // -------------------------------------------------------------------------------------------
  test("user.load: GET /v1/me and /v1/me/passkeys with the cookie; passkeys are PasskeyResources", async () => {
    const requests = installServer(meRoutes);
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    assert.ok(pk.user instanceof UserResource);
    assert.equal(pk.user.isLoaded, false);
    assert.equal(pk.user.externalId, null);
    assert.deepEqual(pk.user.passkeys, []);

    const user = await pk.user.load();
    assert.equal(user, pk.user);
    assert.deepEqual(
      requests.map((r) => [r.key, r.init.credentials, r.init.headers.Authorization]),
      [
        ["GET /v1/me", "include", undefined],
        ["GET /v1/me/passkeys", "include", undefined],
      ],
    );
    assert.equal(requests[0].url, `${BASE}/v1/me`);
    assert.equal(user.externalId, "user-42");
    assert.equal(user.username, "ada");
    assert.equal(user.displayName, "Ada");
    assert.equal(user.isLoaded, true);
    assert.equal(pk.isSignedIn, true, "a session found through the cookie counts");
    assert.equal(pk.session.jwt, null, "but it has no JWT until getToken()");

    const [first, second] = user.passkeys;
    assert.ok(first instanceof PasskeyResource);
    assert.equal(first.id, "pk_1");
    assert.equal(second.name, "Work key");
    assert.equal(first.authenticatorName, "iCloud Keychain");
    assert.equal(first.backupState, true);
    assert.deepEqual(first.transports, ["internal", "hybrid"]);
    assert.ok(first.createdAt instanceof Date);
    assert.equal(first.lastUsedAt, null);
    assert.equal(first.state, "verified");
    assert.equal(first.verification, null);

    await pk.user.load();
    assert.equal(requests.length, 2, "load() does not fetch again; reload() does");
    await pk.user.reload();
    assert.equal(requests.length, 4);

    user.passkeys.pop();
    assert.equal(pk.user.passkeys.length, 2, "the list handed out is a copy");
  });

  test("user.load when signed out: invalid_session", async () => {
    installServer({ "GET /v1/me": refused(401, "invalid_session", "sign in first") });
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE });
    await assert.rejects(pk.user.load(), { code: "invalid_session", status: 401, message: "sign in first" });
    assert.equal(pk.user.isLoaded, false);
  });

  test("the resources are made by the SDK only", () => {
    assert.throws(() => new PasskeyResource({}, {}, { id: "x" }), TypeError);
    assert.throws(() => new UserResource({}, {}, () => {}), TypeError);
  });

  // -------------------------------------------------------------------------------------------
  test("passkey.update: PATCH /v1/me/passkeys/{id} {name}; the resource is updated in place", async () => {
    const { pk, requests } = await signedIn(
      {},
      {
        "PATCH /v1/me/passkeys/pk_1": (r) =>
          json(200, passkeyJSON("pk_1", { name: r.body.name ?? "iCloud Keychain", name_is_custom: r.body.name !== null })),
      },
    );
    await pk.user.load();
    const passkey = pk.user.passkeys[0];
    requests.length = 0;

    assert.equal(await passkey.update({ name: "My phone" }), passkey);
    assert.equal(requests[0].key, "PATCH /v1/me/passkeys/pk_1");
    assert.deepEqual(requests[0].body, { name: "My phone" });
    assert.equal(requests[0].init.headers["Content-Type"], "application/json");
    assert.equal(requests[0].init.credentials, "include");
    assert.equal(passkey.name, "My phone");
    assert.equal(passkey.nameIsCustom, true);
    assert.equal(pk.user.passkeys[0].name, "My phone", "the list holds the same object");

    await passkey.update({ name: null });
    assert.deepEqual(requests[1].body, { name: null }, "null restores the generated name");
    assert.equal(passkey.nameIsCustom, false);

    await assert.rejects(passkey.update({}), { code: "invalid_request" });
    await assert.rejects(passkey.update({ name: 7 }), { code: "invalid_request" });
    assert.equal(requests.length, 2);
  });

  test("passkey.delete: DELETE /v1/me/passkeys/{id}; it leaves user.passkeys", async () => {
    const { pk, requests } = await signedIn(
      {},
      { "DELETE /v1/me/passkeys/pk_2": () => json(200, { id: "pk_2", object: "passkey", deleted: true }) },
    );
    await pk.user.load();
    requests.length = 0;
    const result = await pk.user.passkeys[1].delete();
    assert.deepEqual(result, { id: "pk_2", object: "passkey", deleted: true });
    assert.equal(requests[0].key, "DELETE /v1/me/passkeys/pk_2");
    assert.equal(requests[0].init.body, undefined);
    assert.equal(requests[0].init.credentials, "include");
    assert.deepEqual(
      pk.user.passkeys.map((p) => p.id),
      ["pk_1"],
    );
  });

  test("passkey.delete of a passkey already gone: passkey_not_found, and it leaves the list", async () => {
    const { pk } = await signedIn({}, { "DELETE /v1/me/passkeys/pk_2": refused(404, "passkey_not_found") });
    await pk.user.load();
    await assert.rejects(pk.user.passkeys[1].delete(), { code: "passkey_not_found", status: 404 });
    assert.deepEqual(
      pk.user.passkeys.map((p) => p.id),
      ["pk_1"],
    );
  });

  test("passkey ids are escaped in the path", async () => {
    const { pk, requests } = await signedIn(
      {},
      {
        "GET /v1/me/passkeys": () => json(200, { data: [passkeyJSON("pk/1 ?")] }),
        "DELETE /v1/me/passkeys/pk%2F1%20%3F": () => json(200, { id: "pk/1 ?", object: "passkey", deleted: true }),
      },
    );
    await pk.user.load();
    await pk.user.passkeys[0].delete();
    assert.equal(requests.at(-1).url, `${BASE}/v1/me/passkeys/pk%2F1%20%3F`);
  });

  // -------------------------------------------------------------------------------------------
  test("reverification_required: the SDK verifies with a passkey and retries the call once", async () => {
    const calls = installBrowser();
    const events = [];
    const { pk, requests } = await signedIn(
      { onCeremony: (e) => events.push([e.context, e.ceremony, e.step]) },
      {
        "DELETE /v1/me/passkeys/pk_2": [
          refused(403, "reverification_required", "verify again"),
          () => json(200, { id: "pk_2", object: "passkey", deleted: true }),
        ],
      },
    );
    await pk.user.load();
    requests.length = 0;
    events.length = 0;
    calls.get.length = 0;

    await pk.user.passkeys[1].delete();

    assert.deepEqual(
      requests.map((r) => r.key),
      [
        "DELETE /v1/me/passkeys/pk_2",
        "POST /v1/me/reverify/start",
        "POST /v1/me/reverify/finish",
        "DELETE /v1/me/passkeys/pk_2",
      ],
    );
    assert.equal(calls.get.length, 1);
    assert.equal(calls.get[0].mediation, undefined, "a modal prompt, not autofill");
    assert.equal(requests[2].body.ceremony_id, "cer_rv");
    assert.equal(requests[2].body.credential.id, "BAUG");
    assert.ok(requests.every((r) => r.init.credentials === "include"));
    assert.equal(pk.session.verifiedAt.getTime(), T0 + 600_000);
    assert.deepEqual(
      pk.user.passkeys.map((p) => p.id),
      ["pk_1"],
    );
    assert.deepEqual(events, [
      ["reverify", "authentication", "options"],
      ["reverify", "authentication", "response"],
      ["reverify", "authentication", "result"],
    ]);
  });

  test("reverification: retried once only; a second refusal is thrown", async () => {
    const { pk, requests } = await signedIn({}, { "DELETE /v1/me/passkeys/pk_2": refused(403, "reverification_required") });
    await pk.user.load();
    requests.length = 0;
    await assert.rejects(pk.user.passkeys[1].delete(), { code: "reverification_required", status: 403 });
    assert.equal(requests.filter((r) => r.key === "DELETE /v1/me/passkeys/pk_2").length, 2);
    assert.equal(requests.filter((r) => r.key === "POST /v1/me/reverify/start").length, 1);
  });

  test("autoReverify: false throws reverification_required; pk.reverify() is there to call", async () => {
    const { pk, requests } = await signedIn(
      { autoReverify: false },
      {
        "DELETE /v1/me/passkeys/pk_2": [
          refused(403, "reverification_required"),
          () => json(200, { id: "pk_2", object: "passkey", deleted: true }),
        ],
      },
    );
    await pk.user.load();
    requests.length = 0;
    const passkey = pk.user.passkeys[1];
    await assert.rejects(passkey.delete(), (e) => e instanceof PasskeydError && e.code === "reverification_required");
    assert.deepEqual(
      requests.map((r) => r.key),
      ["DELETE /v1/me/passkeys/pk_2"],
    );
    const session = await pk.reverify();
    assert.equal(session.verifiedAt.getTime(), T0 + 600_000);
    await passkey.delete();
    assert.deepEqual(
      requests.map((r) => r.key),
      [
        "DELETE /v1/me/passkeys/pk_2",
        "POST /v1/me/reverify/start",
        "POST /v1/me/reverify/finish",
        "DELETE /v1/me/passkeys/pk_2",
      ],
    );
  });

  test("reverification cancelled by the user: cancelled, and the call is not retried", async () => {
    const { pk, requests } = await signedIn({}, { "DELETE /v1/me/passkeys/pk_2": refused(403, "reverification_required") });
    await pk.user.load();
    requests.length = 0;
    installBrowser({
      get: () => {
        throw new DOMException("closed", "NotAllowedError");
      },
    });
    await assert.rejects(pk.user.passkeys[1].delete(), { code: "cancelled" });
    assert.deepEqual(
      requests.map((r) => r.key),
      ["DELETE /v1/me/passkeys/pk_2", "POST /v1/me/reverify/start"],
    );
    assert.equal(pk.user.passkeys.length, 2);
  });

  test("two calls refused at once share one reverification", async () => {
    const calls = installBrowser();
    const { pk, requests } = await signedIn(
      {},
      {
        "DELETE /v1/me/passkeys/pk_1": [refused(403, "reverification_required"), () => json(200, { id: "pk_1" })],
        "DELETE /v1/me/passkeys/pk_2": [refused(403, "reverification_required"), () => json(200, { id: "pk_2" })],
      },
    );
    await pk.user.load();
    calls.get.length = 0;
    requests.length = 0;
    await Promise.all(pk.user.passkeys.map((p) => p.delete()));
    assert.equal(calls.get.length, 1);
    assert.equal(requests.filter((r) => r.key === "POST /v1/me/reverify/finish").length, 1);
    assert.deepEqual(pk.user.passkeys, []);
  });

  // -------------------------------------------------------------------------------------------
  test("user.createPasskey: unverified with options, navigator.credentials.create, attempt_verification", async () => {
    const calls = installBrowser();
    const events = [];
    const { pk, requests } = await signedIn(
      { onCeremony: (e) => events.push(e) },
      {
        "POST /v1/me/passkeys": () =>
          json(200, {
            state: "unverified",
            id: "pk_new",
            verification: {
              status: "unverified",
              attempts: 0,
              max_attempts: 3,
              expires_at: iso(T0 + 300_000),
              options: creationOptions,
            },
          }),
        "POST /v1/me/passkeys/pk_new/attempt_verification": () =>
          json(200, passkeyJSON("pk_new", { name: "Laptop", name_is_custom: true })),
      },
    );
    await pk.user.load();
    requests.length = 0;
    events.length = 0;

    const passkey = await pk.user.createPasskey({ name: "Laptop" });

    assert.deepEqual(
      requests.map((r) => r.key),
      ["POST /v1/me/passkeys", "POST /v1/me/passkeys/pk_new/attempt_verification"],
    );
    assert.deepEqual(requests[0].body, { name: "Laptop" });
    assert.equal(calls.create.length, 1);
    assert.ok(calls.create[0].publicKey.challenge instanceof ArrayBuffer);
    assert.equal(calls.create[0].publicKey.rp.id, "example.com");
    assert.deepEqual(Object.keys(requests[1].body), ["credential"]);
    assert.equal(requests[1].body.credential.id, "AQID");
    assert.equal(requests[1].body.credential.response.attestationObject, "Ag");
    assert.ok(requests.every((r) => r.init.credentials === "include"));

    assert.ok(passkey instanceof PasskeyResource);
    assert.equal(passkey.id, "pk_new");
    assert.equal(passkey.state, "verified");
    assert.equal(passkey.name, "Laptop");
    assert.deepEqual(
      pk.user.passkeys.map((p) => p.id),
      ["pk_1", "pk_2", "pk_new"],
    );
    assert.deepEqual(
      events.map((e) => [e.context, e.ceremony, e.step]),
      [
        ["create_passkey", "registration", "options"],
        ["create_passkey", "registration", "response"],
        ["create_passkey", "registration", "result"],
      ],
    );
    assert.deepEqual(events[0].data, creationOptions);
  });

  test("user.createPasskey without a name sends {}", async () => {
    const { pk, requests } = await signedIn(
      {},
      {
        "POST /v1/me/passkeys": () =>
          json(200, { state: "unverified", id: "pk_new", verification: { status: "unverified", options: creationOptions } }),
        "POST /v1/me/passkeys/pk_new/attempt_verification": () => json(200, passkeyJSON("pk_new")),
      },
    );
    await pk.user.createPasskey();
    assert.deepEqual(requests[0].body, {});
  });

  test("user.createPasskey cancelled in the browser: cancelled, and the pending passkey is discarded", async () => {
    installBrowser({
      create: () => {
        throw new DOMException("closed", "NotAllowedError");
      },
    });
    const { pk, requests } = await signedIn(
      {},
      {
        "POST /v1/me/passkeys": () =>
          json(200, { state: "unverified", id: "pk_new", verification: { status: "unverified", options: creationOptions } }),
        "DELETE /v1/me/passkeys/pk_new": () => json(200, { id: "pk_new", object: "passkey", deleted: true }),
      },
    );
    await assert.rejects(pk.user.createPasskey(), { code: "cancelled" });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      requests.map((r) => r.key),
      ["POST /v1/me/passkeys", "DELETE /v1/me/passkeys/pk_new"],
    );
  });

  test("user.createPasskey: an authenticator that already holds one is already_registered", async () => {
    installBrowser({
      create: () => {
        throw new DOMException("excluded", "InvalidStateError");
      },
    });
    const { pk } = await signedIn(
      {},
      {
        "POST /v1/me/passkeys": () =>
          json(200, { state: "unverified", id: "pk_new", verification: { status: "unverified", options: creationOptions } }),
        "DELETE /v1/me/passkeys/pk_new": () => json(200, {}),
      },
    );
    await assert.rejects(pk.user.createPasskey(), { code: "already_registered" });
  });

  test("user.createPasskey refused at verification: the server's code, and no DELETE (it may have been stored)", async () => {
    const { pk, requests } = await signedIn(
      {},
      {
        "POST /v1/me/passkeys": () =>
          json(200, { state: "unverified", id: "pk_new", verification: { status: "unverified", options: creationOptions } }),
        "POST /v1/me/passkeys/pk_new/attempt_verification": refused(422, "origin_mismatch", "expected x, saw y"),
      },
    );
    await pk.user.load();
    requests.length = 0;
    await assert.rejects(pk.user.createPasskey(), { code: "origin_mismatch", status: 422 });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      requests.map((r) => r.key),
      ["POST /v1/me/passkeys", "POST /v1/me/passkeys/pk_new/attempt_verification"],
    );
    assert.equal(pk.user.passkeys.length, 2);
  });

  test("user.createPasskey: too_many_passkeys is refused before the browser is asked", async () => {
    const calls = installBrowser();
    const { pk } = await signedIn({}, { "POST /v1/me/passkeys": refused(403, "too_many_passkeys", "the user already has 5") });
    await assert.rejects(pk.user.createPasskey(), { code: "too_many_passkeys", status: 403 });
    assert.equal(calls.create.length, 0);
  });

  // -------------------------------------------------------------------------------------------
  test("session: 'token': the token comes in the body, stays in memory and goes as Authorization: Bearer", async () => {
    const events = [];
    const requests = installServer({
      ...signInRoutes(() => json(200, { nonce: "nonce_1", session: issued(T0, { token: "pkd_st_secret" }) })),
      ...meRoutes,
      "POST /v1/me/session/refresh": () => json(200, issued(T0)),
      "POST /v1/me/session/signout": () => json(204),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE, session: "token", onCeremony: (e) => events.push(e) });
    assert.equal(pk.sessionTransport, "token");

    await assert.rejects(pk.user.load(), { code: "invalid_session" });
    assert.equal(requests.length, 0, "no call without a token");

    const session = await pk.signIn.passkey({ flow: "discoverable" });
    assert.equal(requests[1].body.session_transport, "token");
    assert.equal(requests[1].init.credentials, "omit", "no cookie in token mode");
    assert.equal("token" in session, false, "the token is not handed out");
    assert.equal(JSON.stringify(pk.session).includes("pkd_st_secret"), false);
    const result = events.find((e) => e.step === "result");
    assert.equal(JSON.stringify(result.data).includes("pkd_st_secret"), false, "nor shown to onCeremony");
    assert.equal(result.data.session.jwt, session.jwt);

    await pk.user.load();
    await pk.getToken({ skipCache: true });
    const me = requests.slice(2);
    assert.deepEqual(
      me.map((r) => r.key),
      ["GET /v1/me", "GET /v1/me/passkeys", "POST /v1/me/session/refresh"],
    );
    for (const r of me) {
      assert.equal(r.init.headers.Authorization, "Bearer pkd_st_secret");
      assert.equal(r.init.credentials, "omit");
    }

    await pk.signOut();
    assert.equal(requests.at(-1).init.headers.Authorization, "Bearer pkd_st_secret");
    assert.equal(pk.isSignedIn, false);
    requests.length = 0;
    await assert.rejects(pk.getToken(), { code: "invalid_session" });
    assert.equal(requests.length, 0, "the token is forgotten");
  });

  test("session: 'token' without a token in the answer is invalid_response", async () => {
    installServer(signInRoutes());
    const pk = new Passkeyd({ appId: "default", baseUrl: BASE, session: "token" });
    await assert.rejects(pk.signIn.passkey({ flow: "discoverable" }), { code: "invalid_response" });
    assert.equal(pk.isSignedIn, false);
  });

  test("the constructor checks session and reads autoReverify", () => {
    assert.throws(() => new Passkeyd({ appId: "x", baseUrl: BASE, session: "localStorage" }), TypeError);
    assert.equal(new Passkeyd({ appId: "x", baseUrl: BASE }).sessionTransport, "cookie");
    assert.equal(new Passkeyd({ appId: "x", baseUrl: BASE }).autoReverify, true);
    assert.equal(new Passkeyd({ appId: "x", baseUrl: BASE, autoReverify: false }).autoReverify, false);
  });

  // -------------------------------------------------------------------------------------------
  test("signOut: POST /v1/me/session/signout with the cookie, then everything is forgotten", async () => {
    const { pk, requests } = await signedIn({}, { "POST /v1/me/session/signout": () => json(204) });
    await pk.user.load();
    requests.length = 0;
    await pk.signOut();
    assert.equal(requests[0].key, "POST /v1/me/session/signout");
    assert.equal(requests[0].init.credentials, "include");
    assert.equal(pk.isSignedIn, false);
    assert.equal(pk.session, null);
    assert.equal(pk.user.isLoaded, false);
    assert.equal(pk.user.externalId, null);
    assert.deepEqual(pk.user.passkeys, []);
  });

  test("signOut of a session already gone succeeds; a failing server keeps the session", async () => {
    const gone = await signedIn({}, { "POST /v1/me/session/signout": refused(401, "invalid_session") });
    await gone.pk.signOut();
    assert.equal(gone.pk.isSignedIn, false);

    const down = await signedIn({}, { "POST /v1/me/session/signout": refused(503, "store_unavailable") });
    await assert.rejects(down.pk.signOut(), { code: "store_unavailable", status: 503 });
    assert.equal(down.pk.isSignedIn, true);
  });

  test("a sign-out during a refresh wins: the refresh does not bring the session back", async () => {
    let release;
    const { pk } = await signedIn(
      {},
      {
        "POST /v1/me/session/refresh": () => new Promise((resolve) => (release = () => resolve(json(200, issued(T0))))),
        "POST /v1/me/session/signout": () => json(204),
      },
    );
    const pending = pk.getToken({ skipCache: true });
    await new Promise((resolve) => setImmediate(resolve));
    await pk.signOut();
    release();
    await assert.rejects(pending, { code: "invalid_session" });
    assert.equal(pk.isSignedIn, false);
  });

  test("any /v1/me call answering 401 signs the client out; other errors keep the server's code", async () => {
    const { pk } = await signedIn(
      {},
      {
        "PATCH /v1/me/passkeys/pk_1": refused(422, "invalid_request", "name: at most 64 characters"),
        "DELETE /v1/me/passkeys/pk_2": refused(401, "invalid_session"),
      },
    );
    await pk.user.load();
    const [first, second] = pk.user.passkeys;
    await assert.rejects(first.update({ name: "x".repeat(65) }), {
      code: "invalid_request",
      status: 422,
      requestId: "req_invalid_request",
      message: "name: at most 64 characters",
    });
    assert.equal(pk.isSignedIn, true);
    await assert.rejects(second.delete(), { code: "invalid_session", status: 401 });
    assert.equal(pk.isSignedIn, false);
    assert.equal(pk.user.isLoaded, false);
  });

  test("a /v1/me call that cannot reach the server is network", async () => {
    const { pk } = await signedIn();
    globalThis.fetch = async () => {
      throw new TypeError("Failed to fetch");
    };
    await assert.rejects(pk.user.reload(), { code: "network" });
    assert.equal(pk.isSignedIn, true);
  });

  test("a new sign-in replaces the session and empties the user", async () => {
    let n = 0;
    const { pk } = await signedIn(
      {},
      {
        "POST /v1/apps/default/authentications/finish": () =>
          json(200, { nonce: "n", session: issued(T0, { session: { id: `ses_${++n}` } }) }),
      },
    );
    await pk.user.load();
    assert.equal(pk.user.isLoaded, true);
    await pk.signIn.passkey({ flow: "discoverable" });
    assert.equal(pk.session.id, "ses_2");
    assert.equal(pk.user.isLoaded, false);
  });
});
