// Type declarations for @passkeyd/browser (passkeyd.js).

/**
 * The codes the SDK itself uses, and the server's codes the session API acts on; any other string
 * is a code of the server (`unknown_credential`, `origin_mismatch`, `too_many_passkeys`, ...).
 */
export type PasskeydErrorCode =
  | "cancelled"
  | "timeout"
  | "not_supported"
  | "already_registered"
  | "invalid_domain"
  | "network"
  | "rate_limited"
  | "invalid_options"
  | "invalid_response"
  | "invalid_request"
  | "server_error"
  | "webauthn_error"
  | "sessions_disabled"
  | "invalid_session"
  | "reverification_required"
  | (string & {});

export interface PasskeydErrorDetails {
  status?: number;
  requestId?: string;
  retryAfter?: number;
  cause?: unknown;
}

/** The error every method throws. */
export class PasskeydError extends Error {
  constructor(code: PasskeydErrorCode, message: string, details?: PasskeydErrorDetails);
  readonly name: "PasskeydError";
  /** Stable, snake_case. */
  code: PasskeydErrorCode;
  /** The HTTP status, for errors the server answered. */
  status?: number;
  /** The server's request id (also in its log), for errors the server answered. */
  requestId?: string;
  /** Seconds to wait, for `rate_limited` when the server sent Retry-After. */
  retryAfter?: number;
}

export type CeremonyKind = "registration" | "authentication";
export type CeremonyStep = "options" | "response" | "result";
/**
 * Which call ran the ceremony: `register()`, `authenticate()`, `signIn.passkey()`,
 * `user.createPasskey()` or `reverify()` (also run by the SDK itself on `reverification_required`).
 */
export type CeremonyContext = "register" | "authenticate" | "sign_in" | "create_passkey" | "reverify";

/** What `onCeremony` receives at each step of a ceremony. */
export type CeremonyEvent =
  | {
      ceremony: "registration";
      step: "options";
      data: PublicKeyCredentialCreationOptionsJSON;
      /** Undefined for `create_passkey`, whose ceremony is known by the passkey's id. */
      ceremonyId: string | undefined;
      context: "register" | "create_passkey";
    }
  | {
      ceremony: "authentication";
      step: "options";
      data: PublicKeyCredentialRequestOptionsJSON;
      ceremonyId: string;
      context: "authenticate" | "sign_in" | "reverify";
    }
  | {
      ceremony: "registration";
      step: "response";
      data: RegistrationResponseJSON;
      ceremonyId: string | undefined;
      context: "register" | "create_passkey";
    }
  | {
      ceremony: "authentication";
      step: "response";
      data: AuthenticationResponseJSON;
      ceremonyId: string;
      context: "authenticate" | "sign_in" | "reverify";
    }
  | {
      ceremony: CeremonyKind;
      step: "result";
      /** The finish answer; its `session` (apps with sessions on) never includes the session token. */
      data: { nonce: string; session?: SessionIssuedJSON; [key: string]: unknown };
      ceremonyId: string;
      context: "register" | "authenticate" | "sign_in";
    }
  | { ceremony: "registration"; step: "result"; data: MePasskeyJSON; ceremonyId: undefined; context: "create_passkey" }
  | { ceremony: "authentication"; step: "result"; data: SessionJSON; ceremonyId: string; context: "reverify" };

/** Where the session token lives after `signIn.passkey()`. */
export type SessionTransport = "cookie" | "token";

export interface PasskeydConfig {
  /** The passkeyd app id. */
  appId: string;
  /** Where passkeyd is; defaults to the origin this module was loaded from. */
  baseUrl?: string;
  /** Called at each step of a ceremony (for teaching and debugging); its errors are ignored. */
  onCeremony?: (event: CeremonyEvent) => void;
  /**
   * `"cookie"` (the default): passkeyd keeps the session token in an HttpOnly cookie for its own
   * origin, and `/v1/me` calls are credentialed fetches. `"token"`: the token comes in the sign-in
   * answer, the SDK keeps it in memory only (a page reload signs out) and sends it as
   * `Authorization: Bearer`, for setups where the cookie cannot work.
   */
  session?: SessionTransport;
  /**
   * When a call answers `403 reverification_required`, verify the user with a passkey
   * (`reverify()`) and retry the call once. Default true; with false the error is thrown.
   */
  autoReverify?: boolean;
}

export interface RegisterOptions {
  /** The passkey's name; passkeyd names it after the authenticator model otherwise. */
  name?: string;
  /** Aborts the ceremony (the promise rejects with code `cancelled`). */
  signal?: AbortSignal;
}

export interface AuthenticateOptions {
  /** From your backend, for a username-first sign-in; omit it for a discoverable one. */
  transactionId?: string;
  /** `"conditional"` offers passkeys in the autofill of an `autocomplete="username webauthn"` field. */
  mediation?: CredentialMediationRequirement;
  /** Abort it when the user picks another way to sign in (rejects with code `cancelled`). */
  signal?: AbortSignal;
}

export interface SignInPasskeyOptions {
  /**
   * `"discoverable"` (the default): a button; the browser offers every passkey of the app.
   * `"autofill"`: a conditional request, offered in the autofill of an
   * `autocomplete="username webauthn"` field (rejects with `not_supported` where the browser lacks it).
   */
  flow?: "discoverable" | "autofill";
  /** Aborts the ceremony (the promise rejects with code `cancelled`); abort an autofill request before any other sign-in. */
  signal?: AbortSignal;
}

export interface SignIn {
  /**
   * Signs in with a passkey and starts a passkeyd session: the server sets its session cookie
   * (or, with `session: "token"`, hands the SDK the token). Rejects with `sessions_disabled` when
   * the app has no sessions.
   */
  passkey(options?: SignInPasskeyOptions): Promise<Session>;
}

/** A passkeyd session, as the SDK knows it. A snapshot: read `pk.session` again after changes. */
export interface Session {
  /** The session id (the JWT's `sid`). */
  readonly id: string;
  /** The latest JWT, or null when none was fetched yet (a session found through the cookie): call `getToken()`. */
  readonly jwt: string | null;
  /** When `jwt` expires. */
  readonly jwtExpiresAt: Date | null;
  /** The passkey that signed in. */
  readonly passkeyId: string | null;
  readonly createdAt: Date | null;
  /** When a JWT was last issued. */
  readonly refreshedAt: Date | null;
  /** When the user last verified with a passkey (sign-in or `reverify()`). */
  readonly verifiedAt: Date | null;
  /** When the session ends. */
  readonly expiresAt: Date | null;
  /** The browser's User-Agent at sign-in. */
  readonly userAgent: string | null;
  /** The client IP at sign-in. */
  readonly clientIp: string | null;
}

export interface GetTokenOptions {
  /** Fetch a new JWT even when the cached one is still fresh. */
  skipCache?: boolean;
}

export interface ReverifyOptions {
  /** Aborts the passkey prompt (rejects with code `cancelled`). */
  signal?: AbortSignal;
}

export interface CreatePasskeyOptions {
  /** The passkey's name (1 to 64 characters); passkeyd names it after the authenticator model otherwise. */
  name?: string;
  /** Aborts the ceremony (rejects with code `cancelled`). */
  signal?: AbortSignal;
}

/** The ceremony a passkey in state `unverified` waits for. */
export interface PasskeyVerification {
  /** `unverified`, or `failed` after the last allowed attempt. */
  status: "unverified" | "failed" | (string & {});
  attempts: number;
  maxAttempts: number;
  expiresAt: Date | null;
  /** The creation options for `navigator.credentials.create()`. */
  options: PublicKeyCredentialCreationOptionsJSON;
}

/** One of the signed-in user's passkeys (`pk.user.passkeys`, `pk.user.createPasskey()`). */
export class PasskeyResource {
  /** Made by the SDK only; the constructor throws TypeError otherwise. */
  private constructor();
  id: string;
  /** `verified` for every passkey the SDK hands out (`unverified` ones exist only during `createPasskey()`). */
  state: "verified" | "unverified";
  /** The chosen name, or the one made from the authenticator model. */
  name: string | null;
  /** Whether `name` was chosen rather than generated. */
  nameIsCustom: boolean;
  /** The owner's external id. */
  externalId: string | null;
  /** The credential id, base64url. */
  credentialId: string | null;
  /** The authenticator model. */
  aaguid: string | null;
  /** The model's name, when passkeyd knows the AAGUID. */
  authenticatorName: string | null;
  /** `platform` or `cross-platform`, when reported. */
  authenticatorAttachment: string | null;
  /** Transports the browser reported (`internal`, `hybrid`, `usb`, `nfc`, `ble`). */
  transports: string[];
  /** Whether the passkey may be synced between devices (BE). */
  backupEligible: boolean;
  /** Whether it is synced now (BS, as last seen). */
  backupState: boolean;
  /** Whether the user was verified when it was registered. */
  userVerified: boolean;
  /** Whether the authenticator reported it as discoverable (`credProps.rk`), when it did. */
  discoverable: boolean | null;
  /** The COSE algorithm of the key. */
  algorithm: number | null;
  /** The attestation statement format (`none`, `packed`, ...). */
  attestationFormat: string | null;
  /** The attestation type (`none`, `self`, `basic`, `attca`, `anonca`). */
  attestationType: string | null;
  /** The signature counter as last seen. */
  signCount: number | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** When it last signed in; null when never. */
  lastUsedAt: Date | null;
  /** The pending ceremony (`unverified` passkeys only). */
  verification: PasskeyVerification | null;
  /**
   * Renames it (PATCH `/v1/me/passkeys/{id}`); `null` restores the generated name. Resolves to
   * this passkey, updated. May need reverification (`rename_passkey` in the app's settings).
   */
  update(params: { name: string | null }): Promise<PasskeyResource>;
  /**
   * Deletes it (DELETE `/v1/me/passkeys/{id}`) and takes it out of `pk.user.passkeys`. Needs a
   * recent verification (by default): the SDK runs `reverify()` when asked, unless `autoReverify` is false.
   */
  delete(): Promise<{ id: string; object: "passkey"; deleted: true }>;
}

/** The signed-in user (`pk.user`): empty until `load()`, emptied again by sign-out or a new sign-in. */
export class UserResource {
  /** Made by the SDK only; the constructor throws TypeError otherwise. */
  private constructor();
  /** Whether `load()` or `reload()` has filled it in. */
  isLoaded: boolean;
  /** Your app's identifier for the user (the JWT's `sub`). */
  externalId: string | null;
  username: string | null;
  displayName: string | null;
  createdAt: Date | null;
  updatedAt: Date | null;
  /** The user's passkeys as last loaded, oldest first (a copy of the SDK's list). */
  readonly passkeys: PasskeyResource[];
  /** Loads the user and their passkeys unless already loaded. Rejects with `invalid_session` when signed out. */
  load(): Promise<UserResource>;
  /** Loads the user and their passkeys (GET `/v1/me`, `/v1/me/passkeys`). */
  reload(): Promise<UserResource>;
  /**
   * Adds a passkey: POST `/v1/me/passkeys` (an `unverified` passkey with creation options),
   * `navigator.credentials.create()`, then POST `/v1/me/passkeys/{id}/attempt_verification`.
   * Resolves to the verified passkey, also added to `passkeys`.
   */
  createPasskey(options?: CreatePasskeyOptions): Promise<PasskeyResource>;
}

export class Passkeyd {
  constructor(config: PasskeydConfig);
  readonly appId: string;
  readonly baseUrl: string;
  /** The `session` option. */
  readonly sessionTransport: SessionTransport;
  /** The `autoReverify` option; may be changed. */
  autoReverify: boolean;
  /** The `onCeremony` option; may be changed. */
  onCeremony: ((event: CeremonyEvent) => void) | undefined;
  /** Whether the browser has WebAuthn (PublicKeyCredential and navigator.credentials.create/get). */
  static isSupported(): boolean;
  /** Whether a user-verifying platform authenticator is available (false on error or without WebAuthn). */
  canRegisterPasskey(): Promise<boolean>;
  /** Whether conditional mediation (passkeys in autofill) is available (false when the browser lacks it). */
  canAuthenticateWithPasskey(): Promise<boolean>;
  /** Registers a passkey; resolves to the nonce your backend redeems. */
  register(transactionId: string, options?: RegisterOptions): Promise<string>;
  /** Signs in; resolves to the nonce your backend redeems. */
  authenticate(options?: AuthenticateOptions): Promise<string>;

  /** Sign-in that starts a passkeyd session. */
  readonly signIn: SignIn;
  /** The signed-in user; always the same object. */
  readonly user: UserResource;
  /**
   * The session this client knows, or null. After a page load in cookie mode it is null until
   * `user.load()` or `getToken()` has found the cookie's session.
   */
  readonly session: Session | null;
  /** Whether `session` is not null. */
  readonly isSignedIn: boolean;
  /**
   * A JWT for your backend: the cached one while it has more than ~30 s to live (at most half its
   * lifetime), else a new one from POST `/v1/me/session/refresh`. Rejects with `invalid_session`
   * when there is no session (the client is then signed out).
   */
  getToken(options?: GetTokenOptions): Promise<string>;
  /** Signs out (POST `/v1/me/session/signout`, which clears the cookie) and forgets the session and user. */
  signOut(): Promise<void>;
  /**
   * Verifies the user with one of their passkeys (POST `/v1/me/reverify/start`,
   * `navigator.credentials.get()`, `/v1/me/reverify/finish`), which allows sensitive actions for
   * the app's `reverification_seconds`. Concurrent calls share one prompt.
   */
  reverify(options?: ReverifyOptions): Promise<Session>;
}

/** base64url (or base64, padding optional) to bytes. Throws TypeError on anything else. */
export function base64urlToBuffer(value: string): ArrayBuffer;
/** Bytes to base64url without padding. */
export function bufferToBase64url(buffer: ArrayBuffer | ArrayBufferView): string;
/** The SDK's fallback for `PublicKeyCredential.parseCreationOptionsFromJSON()`. */
export function creationOptionsFromJSON(json: PublicKeyCredentialCreationOptionsJSON): PublicKeyCredentialCreationOptions;
/** The SDK's fallback for `PublicKeyCredential.parseRequestOptionsFromJSON()`. */
export function requestOptionsFromJSON(json: PublicKeyCredentialRequestOptionsJSON): PublicKeyCredentialRequestOptions;
/** The SDK's fallback for `PublicKeyCredential.prototype.toJSON()`. */
export function credentialToJSON(credential: PublicKeyCredential): RegistrationResponseJSON | AuthenticationResponseJSON;
/** Maps what `navigator.credentials.create()`/`get()` threw to a PasskeydError. */
export function mapWebAuthnError(
  error: unknown,
  context?: { ceremony?: CeremonyKind; elapsedMs?: number; timeoutMs?: number; aborted?: boolean },
): PasskeydError;

// WebAuthn Level 3 JSON types (declared here because TypeScript's DOM library lacks some of them).

export type Base64URLString = string;

export interface PublicKeyCredentialDescriptorJSON {
  id: Base64URLString;
  type: "public-key";
  transports?: string[];
}

export interface PublicKeyCredentialCreationOptionsJSON {
  rp: { id?: string; name: string };
  user: { id: Base64URLString; name: string; displayName: string };
  challenge: Base64URLString;
  pubKeyCredParams: { type: "public-key"; alg: number }[];
  timeout?: number;
  excludeCredentials?: PublicKeyCredentialDescriptorJSON[];
  authenticatorSelection?: {
    authenticatorAttachment?: string;
    residentKey?: string;
    requireResidentKey?: boolean;
    userVerification?: string;
  };
  hints?: string[];
  attestation?: string;
  attestationFormats?: string[];
  extensions?: Record<string, unknown>;
}

export interface PublicKeyCredentialRequestOptionsJSON {
  challenge: Base64URLString;
  timeout?: number;
  rpId?: string;
  allowCredentials?: PublicKeyCredentialDescriptorJSON[];
  userVerification?: string;
  hints?: string[];
  extensions?: Record<string, unknown>;
}

export interface RegistrationResponseJSON {
  id: Base64URLString;
  rawId: Base64URLString;
  type: "public-key";
  authenticatorAttachment?: string;
  clientExtensionResults: Record<string, unknown>;
  response: {
    clientDataJSON: Base64URLString;
    attestationObject: Base64URLString;
    authenticatorData?: Base64URLString;
    publicKey?: Base64URLString;
    publicKeyAlgorithm?: number;
    transports?: string[];
  };
}

export interface AuthenticationResponseJSON {
  id: Base64URLString;
  rawId: Base64URLString;
  type: "public-key";
  authenticatorAttachment?: string;
  clientExtensionResults: Record<string, unknown>;
  response: {
    clientDataJSON: Base64URLString;
    authenticatorData: Base64URLString;
    signature: Base64URLString;
    userHandle?: Base64URLString;
  };
}

// The server's JSON, as onCeremony sees it.

/** A session (`SessionView` of the OpenAPI document). */
export interface SessionJSON {
  id: string;
  passkey_id: string | null;
  created_at: string;
  refreshed_at: string;
  verified_at: string;
  expires_at: string;
  user_agent: string | null;
  client_ip: string | null;
}

/** The `session` member of a sign-in's finish answer. */
export interface SessionIssuedJSON {
  jwt: string;
  jwt_expires_at: string;
  session: SessionJSON;
}

/** A passkey of the signed-in user (`MePasskey` of the OpenAPI document). */
export interface MePasskeyJSON {
  state: "verified" | "unverified";
  id: string;
  name?: string;
  name_is_custom?: boolean;
  external_id?: string;
  credential_id?: string;
  aaguid?: string;
  authenticator_name?: string | null;
  transports?: string[];
  backup_eligible?: boolean;
  backup_state?: boolean;
  user_verified?: boolean;
  discoverable?: boolean | null;
  authenticator_attachment?: string | null;
  attestation_format?: string;
  attestation_type?: string;
  algorithm?: number;
  sign_count?: number;
  created_at?: string;
  updated_at?: string;
  last_used_at?: string | null;
  verification?: {
    status: string;
    attempts: number;
    max_attempts: number;
    expires_at: string;
    options: PublicKeyCredentialCreationOptionsJSON;
  };
}
