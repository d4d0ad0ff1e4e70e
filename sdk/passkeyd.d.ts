// Type declarations for @passkeyd/browser (passkeyd.js).

/** The codes the SDK itself uses; any other string is a code of the server (`unknown_credential`, `origin_mismatch`, ...). */
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

/** What `onCeremony` receives at each step of a ceremony. */
export type CeremonyEvent =
  | { ceremony: "registration"; step: "options"; data: PublicKeyCredentialCreationOptionsJSON; ceremonyId: string }
  | { ceremony: "authentication"; step: "options"; data: PublicKeyCredentialRequestOptionsJSON; ceremonyId: string }
  | { ceremony: "registration"; step: "response"; data: RegistrationResponseJSON; ceremonyId: string }
  | { ceremony: "authentication"; step: "response"; data: AuthenticationResponseJSON; ceremonyId: string }
  | { ceremony: CeremonyKind; step: "result"; data: { nonce: string; [key: string]: unknown }; ceremonyId: string };

export interface PasskeydConfig {
  /** The passkeyd app id. */
  appId: string;
  /** Where passkeyd is; defaults to the origin this module was loaded from. */
  baseUrl?: string;
  /** Called at each step of a ceremony (for teaching and debugging); its errors are ignored. */
  onCeremony?: (event: CeremonyEvent) => void;
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

export class Passkeyd {
  constructor(config: PasskeydConfig);
  readonly appId: string;
  readonly baseUrl: string;
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
