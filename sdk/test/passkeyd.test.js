// Unit tests for the pure parts of passkeyd.js: node --test sdk/test/ (node 20+, no install).

import { test, describe, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  Passkeyd,
  PasskeydError,
  base64urlToBuffer,
  bufferToBase64url,
  creationOptionsFromJSON,
  requestOptionsFromJSON,
  credentialToJSON,
  mapWebAuthnError,
} from "../passkeyd.js";

const bytes = (...b) => new Uint8Array(b).buffer;
const text = (s) => new TextEncoder().encode(s).buffer;

// ---------------------------------------------------------------------------------------------
describe("base64url", () => {
  test("round-trips every length from 0 to 64 with all byte values", () => {
    for (let n = 0; n <= 64; n++) {
      const input = new Uint8Array(n).map((_, i) => (i * 37 + n * 11) & 0xff);
      const encoded = bufferToBase64url(input.buffer);
      assert.match(encoded, /^[A-Za-z0-9_-]*$/);
      assert.ok(!encoded.includes("="), "no padding");
      assert.deepEqual(new Uint8Array(base64urlToBuffer(encoded)), input);
    }
  });

  test("uses - and _ where base64 has + and /", () => {
    assert.equal(bufferToBase64url(bytes(0xfb, 0xff, 0xbf)), "-_-_");
    assert.deepEqual(new Uint8Array(base64urlToBuffer("-_-_")), new Uint8Array([0xfb, 0xff, 0xbf]));
  });

  test("accepts padding and the standard alphabet on input", () => {
    assert.deepEqual(new Uint8Array(base64urlToBuffer("YQ==")), new Uint8Array([0x61]));
    assert.deepEqual(new Uint8Array(base64urlToBuffer("YQ")), new Uint8Array([0x61]));
    assert.deepEqual(new Uint8Array(base64urlToBuffer("YWI=")), new Uint8Array([0x61, 0x62]));
    assert.deepEqual(new Uint8Array(base64urlToBuffer("+/+/")), new Uint8Array([0xfb, 0xff, 0xbf]));
  });

  test("known vectors (RFC 4648)", () => {
    const cases = { "": "", f: "Zg", fo: "Zm8", foo: "Zm9v", foob: "Zm9vYg", fooba: "Zm9vYmE", foobar: "Zm9vYmFy" };
    for (const [plain, encoded] of Object.entries(cases)) {
      assert.equal(bufferToBase64url(text(plain)), encoded);
      assert.equal(new TextDecoder().decode(base64urlToBuffer(encoded)), plain);
    }
  });

  test("encodes typed-array views by their window, not the whole buffer", () => {
    const whole = new Uint8Array([1, 2, 3, 4, 5]);
    assert.equal(bufferToBase64url(whole.subarray(1, 3)), bufferToBase64url(bytes(2, 3)));
    assert.equal(bufferToBase64url(new DataView(whole.buffer, 4, 1)), bufferToBase64url(bytes(5)));
  });

  test("encodes large buffers", () => {
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    assert.deepEqual(new Uint8Array(base64urlToBuffer(bufferToBase64url(big))), big);
  });

  test("refuses what is not base64url", () => {
    assert.throws(() => base64urlToBuffer("a"), TypeError); // one char past a group is no byte
    assert.throws(() => base64urlToBuffer("ab!d"), TypeError);
    assert.throws(() => base64urlToBuffer("ab cd"), TypeError);
    assert.throws(() => base64urlToBuffer(null), TypeError);
    assert.throws(() => bufferToBase64url("abc"), TypeError);
  });
});

// ---------------------------------------------------------------------------------------------
describe("options from JSON (fallback)", () => {
  test("creation options: challenge, user.id and excludeCredentials ids become buffers", () => {
    const json = {
      rp: { id: "localhost", name: "passkeyd" },
      user: { id: "dXNlcg", name: "ada", displayName: "Ada" },
      challenge: "Y2hhbGxlbmdl",
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      timeout: 300000,
      excludeCredentials: [{ type: "public-key", id: "AQID", transports: ["internal"] }],
      authenticatorSelection: { residentKey: "required", userVerification: "preferred" },
      hints: ["client-device"],
      extensions: { credProps: true },
    };
    const options = creationOptionsFromJSON(json);
    assert.equal(new TextDecoder().decode(options.challenge), "challenge");
    assert.equal(new TextDecoder().decode(options.user.id), "user");
    assert.equal(options.user.name, "ada");
    assert.deepEqual(new Uint8Array(options.excludeCredentials[0].id), new Uint8Array([1, 2, 3]));
    assert.deepEqual(options.excludeCredentials[0].transports, ["internal"]);
    assert.deepEqual(options.pubKeyCredParams, json.pubKeyCredParams);
    assert.deepEqual(options.extensions, { credProps: true });
    assert.equal(json.challenge, "Y2hhbGxlbmdl", "the input is not changed");
  });

  test("request options: challenge and allowCredentials ids become buffers", () => {
    const options = requestOptionsFromJSON({
      challenge: "Y2hhbGxlbmdl",
      rpId: "localhost",
      allowCredentials: [{ type: "public-key", id: "BAUG" }],
      userVerification: "preferred",
    });
    assert.equal(new TextDecoder().decode(options.challenge), "challenge");
    assert.deepEqual(new Uint8Array(options.allowCredentials[0].id), new Uint8Array([4, 5, 6]));
    assert.equal(options.rpId, "localhost");
    const bare = requestOptionsFromJSON({ challenge: "AA" });
    assert.equal(bare.allowCredentials, undefined);
  });
});

// ---------------------------------------------------------------------------------------------
describe("credential JSON (fallback)", () => {
  test("registration: every member, extension outputs in base64url", () => {
    const credential = {
      id: "AQID",
      rawId: bytes(1, 2, 3),
      type: "public-key",
      authenticatorAttachment: "platform",
      getClientExtensionResults: () => ({ credProps: { rk: true }, prf: { enabled: true, results: { first: bytes(9) } } }),
      response: {
        clientDataJSON: text('{"type":"webauthn.create"}'),
        attestationObject: bytes(0xa3),
        getAuthenticatorData: () => bytes(0x49, 0x96),
        getPublicKey: () => bytes(0x30, 0x59),
        getPublicKeyAlgorithm: () => -7,
        getTransports: () => ["internal", "hybrid"],
      },
    };
    assert.deepEqual(credentialToJSON(credential), {
      id: "AQID",
      rawId: "AQID",
      type: "public-key",
      authenticatorAttachment: "platform",
      clientExtensionResults: { credProps: { rk: true }, prf: { enabled: true, results: { first: "CQ" } } },
      response: {
        clientDataJSON: bufferToBase64url(text('{"type":"webauthn.create"}')),
        attestationObject: "ow",
        authenticatorData: "SZY",
        publicKey: "MFk",
        publicKeyAlgorithm: -7,
        transports: ["internal", "hybrid"],
      },
    });
  });

  test("registration from an old browser: no getters, null public key, no attachment", () => {
    const json = credentialToJSON({
      id: "AQID",
      rawId: bytes(1, 2, 3),
      type: "public-key",
      authenticatorAttachment: null,
      response: {
        clientDataJSON: bytes(1),
        attestationObject: bytes(2),
        getPublicKey: () => null,
        getPublicKeyAlgorithm: () => {
          throw new Error("nope");
        },
      },
    });
    assert.deepEqual(json, {
      id: "AQID",
      rawId: "AQID",
      type: "public-key",
      clientExtensionResults: {},
      response: { clientDataJSON: "AQ", attestationObject: "Ag", transports: [] },
    });
  });

  test("authentication: signature, authenticatorData, userHandle (omitted when null)", () => {
    const base = {
      id: "BAUG",
      rawId: bytes(4, 5, 6),
      type: "public-key",
      authenticatorAttachment: "cross-platform",
      getClientExtensionResults: () => ({}),
    };
    const withHandle = credentialToJSON({
      ...base,
      response: { clientDataJSON: bytes(1), authenticatorData: bytes(2), signature: bytes(3), userHandle: bytes(7) },
    });
    assert.deepEqual(withHandle, {
      id: "BAUG",
      rawId: "BAUG",
      type: "public-key",
      authenticatorAttachment: "cross-platform",
      clientExtensionResults: {},
      response: { clientDataJSON: "AQ", authenticatorData: "Ag", signature: "Aw", userHandle: "Bw" },
    });
    const withoutHandle = credentialToJSON({
      ...base,
      response: { clientDataJSON: bytes(1), authenticatorData: bytes(2), signature: bytes(3), userHandle: null },
    });
    assert.equal("userHandle" in withoutHandle.response, false);
  });
});

// ---------------------------------------------------------------------------------------------
describe("WebAuthn error mapping", () => {
  const dom = (name) => new DOMException(`browser says ${name}`, name);

  test("DOMException names map to codes", () => {
    const cases = [
      ["NotAllowedError", "registration", "cancelled"],
      ["AbortError", "authentication", "cancelled"],
      ["NotSupportedError", "registration", "not_supported"],
      ["InvalidStateError", "registration", "already_registered"],
      ["SecurityError", "authentication", "invalid_domain"],
      ["ConstraintError", "registration", "not_supported"],
      ["UnknownError", "authentication", "webauthn_error"],
    ];
    for (const [name, ceremony, code] of cases) {
      const e = mapWebAuthnError(dom(name), { ceremony });
      assert.ok(e instanceof PasskeydError);
      assert.ok(e instanceof Error);
      assert.equal(e.name, "PasskeydError");
      assert.equal(e.code, code, name);
      assert.equal(e.cause.name, name, "the browser's error is kept as the cause");
    }
  });

  test("NotAllowedError after the options' timeout is a timeout", () => {
    assert.equal(mapWebAuthnError(dom("NotAllowedError"), { elapsedMs: 60_001, timeoutMs: 60_000 }).code, "timeout");
    assert.equal(mapWebAuthnError(dom("NotAllowedError"), { elapsedMs: 59_000, timeoutMs: 60_000 }).code, "cancelled");
    assert.equal(mapWebAuthnError(dom("NotAllowedError"), { elapsedMs: 900_000 }).code, "cancelled");
  });

  test("an aborted signal wins, whatever its reason", () => {
    assert.equal(mapWebAuthnError(new Error("custom reason"), { aborted: true }).code, "cancelled");
  });

  test("InvalidStateError outside registration is not already_registered", () => {
    assert.equal(mapWebAuthnError(dom("InvalidStateError"), { ceremony: "authentication" }).code, "webauthn_error");
  });
});

// ---------------------------------------------------------------------------------------------
// The client against a stubbed browser and server.

const realFetch = globalThis.fetch;
const navigatorDescriptor = Object.getOwnPropertyDescriptor(globalThis, "navigator");

function installBrowser({ create, get, extra = {} }) {
  const calls = { create: [], get: [], signalUnknownCredential: [] };
  globalThis.PublicKeyCredential = Object.assign(function PublicKeyCredential() {}, {
    isUserVerifyingPlatformAuthenticatorAvailable: async () => true,
    isConditionalMediationAvailable: async () => true,
    signalUnknownCredential: async (arg) => {
      calls.signalUnknownCredential.push(arg);
    },
    ...extra,
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

function installServer(routes) {
  const requests = [];
  globalThis.fetch = async (url, init) => {
    const path = new URL(url).pathname;
    requests.push({ url, path, init, body: init.body ? JSON.parse(init.body) : undefined });
    const handler = routes[path];
    if (!handler) return jsonResponse(404, { error: { code: "route_not_found", message: path, request_id: "r0" } });
    return handler(requests.at(-1));
  };
  return requests;
}

function jsonResponse(status, body, headers = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

const assertion = () => ({
  id: "BAUG",
  rawId: bytes(4, 5, 6),
  type: "public-key",
  authenticatorAttachment: "platform",
  getClientExtensionResults: () => ({}),
  response: { clientDataJSON: bytes(1), authenticatorData: bytes(2), signature: bytes(3), userHandle: bytes(7) },
});

const attestation = () => ({
  id: "AQID",
  rawId: bytes(1, 2, 3),
  type: "public-key",
  authenticatorAttachment: "platform",
  getClientExtensionResults: () => ({ credProps: { rk: true } }),
  response: {
    clientDataJSON: bytes(1),
    attestationObject: bytes(2),
    getAuthenticatorData: () => bytes(3),
    getPublicKey: () => bytes(4),
    getPublicKeyAlgorithm: () => -7,
    getTransports: () => ["internal"],
  },
});

const requestOptions = { challenge: "Y2hhbGxlbmdl", rpId: "example.com", timeout: 60000, userVerification: "preferred" };
const creationOptions = {
  rp: { id: "example.com", name: "Example" },
  user: { id: "dXNlcg", name: "ada", displayName: "ada" },
  challenge: "Y2hhbGxlbmdl",
  pubKeyCredParams: [{ type: "public-key", alg: -7 }],
  timeout: 60000,
  excludeCredentials: [{ type: "public-key", id: "AQID" }],
};

describe("Passkeyd client", () => {
  beforeEach(() => {
    delete globalThis.PublicKeyCredential;
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
    delete globalThis.PublicKeyCredential;
    if (navigatorDescriptor) Object.defineProperty(globalThis, "navigator", navigatorDescriptor);
    else delete globalThis.navigator;
  });

  test("needs an appId; trims the base URL", () => {
    assert.throws(() => new Passkeyd({ baseUrl: "https://a.example" }), TypeError);
    assert.equal(new Passkeyd({ appId: "x", baseUrl: "https://a.example/" }).baseUrl, "https://a.example");
  });

  test("isSupported and the capability checks without WebAuthn", async () => {
    Object.defineProperty(globalThis, "navigator", { configurable: true, writable: true, value: {} });
    assert.equal(Passkeyd.isSupported(), false);
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    assert.equal(await pk.canRegisterPasskey(), false);
    assert.equal(await pk.canAuthenticateWithPasskey(), false);
    await assert.rejects(pk.register("txn_1"), { code: "not_supported" });
    await assert.rejects(pk.authenticate(), { code: "not_supported" });
  });

  test("capability checks: false when missing or throwing", async () => {
    installBrowser({
      extra: {
        isUserVerifyingPlatformAuthenticatorAvailable: async () => {
          throw new Error("boom");
        },
        isConditionalMediationAvailable: undefined,
      },
    });
    assert.equal(Passkeyd.isSupported(), true);
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    assert.equal(await pk.canRegisterPasskey(), false);
    assert.equal(await pk.canAuthenticateWithPasskey(), false);
  });

  test("register: start, create, finish, with the fallback parser and the ceremony hook", async () => {
    const calls = installBrowser({ create: attestation });
    const requests = installServer({
      "/v1/apps/my%20app/registrations/start": () =>
        jsonResponse(201, { ceremony_id: "cer_1", options: creationOptions, expires_at: "2030-01-01T00:00:00Z" }),
      "/v1/apps/my%20app/registrations/finish": () => jsonResponse(201, { nonce: "nonce_reg" }),
    });
    const events = [];
    const pk = new Passkeyd({ appId: "my app", baseUrl: "https://pk.example", onCeremony: (e) => events.push(e) });
    assert.equal(await pk.register("txn_1", { name: "Laptop" }), "nonce_reg");

    assert.equal(requests.length, 2);
    assert.equal(requests[0].url, "https://pk.example/v1/apps/my%20app/registrations/start");
    assert.equal(requests[0].init.method, "POST");
    assert.equal(requests[0].init.credentials, "omit");
    assert.equal(requests[0].init.headers["Content-Type"], "application/json");
    assert.deepEqual(requests[0].body, { transaction_id: "txn_1", passkey_name: "Laptop" });
    assert.equal(requests[1].body.ceremony_id, "cer_1");
    assert.equal(requests[1].body.credential.response.attestationObject, "Ag");
    assert.deepEqual(requests[1].body.credential.clientExtensionResults, { credProps: { rk: true } });

    const publicKey = calls.create[0].publicKey;
    assert.ok(publicKey.challenge instanceof ArrayBuffer);
    assert.ok(publicKey.user.id instanceof ArrayBuffer);
    assert.ok(publicKey.excludeCredentials[0].id instanceof ArrayBuffer);

    assert.deepEqual(
      events.map((e) => [e.ceremony, e.step]),
      [
        ["registration", "options"],
        ["registration", "response"],
        ["registration", "result"],
      ],
    );
    assert.deepEqual(events[0].data, creationOptions);
    assert.deepEqual(events[2].data, { nonce: "nonce_reg" });
  });

  test("register: the native parser and toJSON are used when present; a throwing hook is ignored", async () => {
    const parsed = { marker: "native" };
    const calls = installBrowser({
      create: () => ({ ...attestation(), toJSON: () => ({ id: "native", response: { marker: 1 } }) }),
      extra: { parseCreationOptionsFromJSON: () => parsed },
    });
    const requests = installServer({
      "/v1/apps/default/registrations/start": () =>
        jsonResponse(201, { ceremony_id: "cer_1", options: creationOptions, expires_at: "x" }),
      "/v1/apps/default/registrations/finish": () => jsonResponse(201, { nonce: "n" }),
    });
    const original = console.error;
    console.error = () => {};
    try {
      const pk = new Passkeyd({
        appId: "default",
        baseUrl: "https://pk.example",
        onCeremony: () => {
          throw new Error("hook bug");
        },
      });
      assert.equal(await pk.register("txn_1"), "n");
    } finally {
      console.error = original;
    }
    assert.equal(calls.create[0].publicKey, parsed);
    assert.deepEqual(requests[0].body, { transaction_id: "txn_1" }, "no passkey_name without a name");
    assert.deepEqual(requests[1].body.credential, { id: "native", response: { marker: 1 } });
  });

  test("register: InvalidStateError is already_registered and nothing is finished", async () => {
    installBrowser({
      create: () => {
        throw new DOMException("excluded", "InvalidStateError");
      },
    });
    const requests = installServer({
      "/v1/apps/default/registrations/start": () =>
        jsonResponse(201, { ceremony_id: "cer_1", options: creationOptions, expires_at: "x" }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    await assert.rejects(pk.register("txn_1"), (e) => e instanceof PasskeydError && e.code === "already_registered");
    assert.equal(requests.length, 1);
  });

  test("authenticate: discoverable, username-first and conditional requests", async () => {
    const calls = installBrowser({ get: assertion });
    const requests = installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(201, { ceremony_id: "cer_2", options: requestOptions, expires_at: "x" }),
      "/v1/apps/default/authentications/finish": () => jsonResponse(200, { nonce: "nonce_auth" }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });

    assert.equal(await pk.authenticate(), "nonce_auth");
    assert.deepEqual(requests[0].body, {});
    assert.equal(calls.get[0].mediation, undefined);
    assert.deepEqual(requests[1].body.credential.response.userHandle, "Bw");

    assert.equal(await pk.authenticate({ transactionId: "txn_9" }), "nonce_auth");
    assert.deepEqual(requests[2].body, { transaction_id: "txn_9" });

    const controller = new AbortController();
    assert.equal(await pk.authenticate({ mediation: "conditional", signal: controller.signal }), "nonce_auth");
    assert.deepEqual(requests[4].body, { mediation: "conditional" });
    assert.equal(calls.get[2].mediation, "conditional");
    assert.equal(calls.get[2].signal, controller.signal);
    assert.ok(calls.get[2].publicKey.challenge instanceof ArrayBuffer);
  });

  test("authenticate: aborting a conditional request is cancelled", async () => {
    const controller = new AbortController();
    installBrowser({
      get: ({ signal }) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    });
    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(201, { ceremony_id: "cer_2", options: requestOptions, expires_at: "x" }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    const pending = pk.authenticate({ mediation: "conditional", signal: controller.signal });
    setTimeout(() => controller.abort(), 10);
    await assert.rejects(pending, { code: "cancelled" });
  });

  test("authenticate: unknown_credential signals the browser, then throws the server's error", async () => {
    const calls = installBrowser({ get: assertion });
    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(201, { ceremony_id: "cer_2", options: requestOptions, expires_at: "x" }),
      "/v1/apps/default/authentications/finish": () =>
        jsonResponse(422, {
          error: { code: "unknown_credential", message: "no passkey has this credential id", request_id: "req_7" },
        }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    await assert.rejects(pk.authenticate(), (e) => {
      assert.ok(e instanceof PasskeydError);
      assert.equal(e.code, "unknown_credential");
      assert.equal(e.message, "no passkey has this credential id");
      assert.equal(e.status, 422);
      assert.equal(e.requestId, "req_7");
      return true;
    });
    assert.deepEqual(calls.signalUnknownCredential, [{ rpId: "example.com", credentialId: "BAUG" }]);
  });

  test("authenticate: a failing signalUnknownCredential does not hide the error", async () => {
    installBrowser({
      get: assertion,
      extra: {
        signalUnknownCredential: async () => {
          throw new DOMException("nope", "SecurityError");
        },
      },
    });
    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(201, { ceremony_id: "cer_2", options: requestOptions, expires_at: "x" }),
      "/v1/apps/default/authentications/finish": () =>
        jsonResponse(422, { error: { code: "unknown_credential", message: "gone", request_id: "r" } }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    await assert.rejects(pk.authenticate(), { code: "unknown_credential" });
  });

  test("other server errors do not signal the browser", async () => {
    const calls = installBrowser({ get: assertion });
    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(201, { ceremony_id: "cer_2", options: requestOptions, expires_at: "x" }),
      "/v1/apps/default/authentications/finish": () =>
        jsonResponse(422, { error: { code: "origin_mismatch", message: "expected x, saw y", request_id: "r" } }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    await assert.rejects(pk.authenticate(), { code: "origin_mismatch", message: "expected x, saw y" });
    assert.equal(calls.signalUnknownCredential.length, 0);
  });

  test("server errors at the start: the server's code, 429 with Retry-After, and bodies that are not the shape", async () => {
    installBrowser({ get: assertion });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });

    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(400, { error: { code: "invalid_transaction", message: "unknown transaction", request_id: "r1" } }),
    });
    await assert.rejects(pk.authenticate({ transactionId: "t" }), {
      code: "invalid_transaction",
      status: 400,
      requestId: "r1",
    });

    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(
          429,
          { error: { code: "rate_limited", message: "slow down", request_id: "r2" } },
          { "Retry-After": "12" },
        ),
    });
    await assert.rejects(pk.authenticate(), (e) => {
      assert.equal(e.code, "rate_limited");
      assert.equal(e.retryAfter, 12);
      assert.equal(e.status, 429);
      assert.equal(e.message, "slow down");
      return true;
    });

    installServer({
      "/v1/apps/default/authentications/start": () =>
        new Response("<html>Bad gateway</html>", { status: 502, headers: { "x-request-id": "r3" } }),
    });
    await assert.rejects(pk.authenticate(), { code: "server_error", status: 502, requestId: "r3" });
  });

  test("a fetch that fails is network", async () => {
    installBrowser({ get: assertion });
    globalThis.fetch = async () => {
      throw new TypeError("Failed to fetch");
    };
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    await assert.rejects(pk.authenticate(), (e) => e instanceof PasskeydError && e.code === "network");
  });

  test("a NotAllowedError after the timeout is timeout", async (t) => {
    let clock = 0;
    t.mock.method(performance, "now", () => clock);
    installBrowser({
      get: () => {
        clock += 60_500;
        throw new DOMException("timed out or not allowed", "NotAllowedError");
      },
    });
    installServer({
      "/v1/apps/default/authentications/start": () =>
        jsonResponse(201, { ceremony_id: "cer_2", options: requestOptions, expires_at: "x" }),
    });
    const pk = new Passkeyd({ appId: "default", baseUrl: "https://pk.example" });
    await assert.rejects(pk.authenticate(), { code: "timeout" });
  });
});
