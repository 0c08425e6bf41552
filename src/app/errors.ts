/**
 * What a use case can refuse, in the application's own terms. Each door translates a kind for
 * its callers: the HTTP API into a problem+json status (api/problem.ts), the broker consumer into
 * acknowledge-and-dead-letter or retry (commands/process.ts). `code` is the stable
 * machine-readable reason both pass on.
 */
export const APP_ERROR_KINDS = [
  /** The request itself is malformed (not JSON, fails the schema, a cursor not ours). */
  'invalid_request',
  /** Well formed, but not something Paysaga can do (an amount over the captured one...). */
  'invalid',
  'not_found',
  /** The resource is in a state that refuses this (already paid, not captured...). */
  'conflict',
  /** Money was refused (a wallet without the funds). */
  'declined',
  'forbidden',
  /** Too many at once (streams, requests): the caller may try again later. */
  'limited',
  /** A dependency is down or slow: the caller may try again later with the same key. */
  'unavailable',
] as const;
export type AppErrorKind = (typeof APP_ERROR_KINDS)[number];

export interface AppErrorOptions {
  /** Extra machine-readable members (`errors`, `dependency`...), passed on as they are. */
  extensions?: Record<string, unknown>;
  /** For `limited` and `unavailable`: when trying again makes sense. */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class AppError extends Error {
  readonly extensions: Record<string, unknown>;
  readonly retryAfterSeconds: number | undefined;

  constructor(
    readonly kind: AppErrorKind,
    readonly code: string,
    readonly detail?: string,
    options: AppErrorOptions = {},
  ) {
    super(detail ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.extensions = options.extensions ?? {};
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Kinds a caller may retry as they are: the same request can succeed later. */
export function isRetryable(kind: AppErrorKind): boolean {
  return kind === 'limited' || kind === 'unavailable';
}
