import type { AppError, AppErrorKind } from '../app/errors.js';

/**
 * RFC 9457 problem details. `code` is the stable machine-readable part clients switch on;
 * `title` and `detail` are for humans and may change.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string | undefined;
  errors?: { path: string; message: string }[] | undefined;
  [extension: string]: unknown;
}

export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail?: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? code);
    this.name = 'ProblemError';
  }

  toProblem(): Problem {
    return { ...problemBody(this.status, this.code, this.detail), ...this.extensions };
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function problemBody(status: number, code: string, detail?: string): Problem {
  return {
    type: `https://paysaga.dev/problems/${code.replaceAll('_', '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    code,
    ...(detail ? { detail } : {}),
  };
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** The media type alone, as the OpenAPI document names it. */
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

/** The HTTP status each application refusal answers with. */
export const STATUS_OF_KIND: Record<AppErrorKind, number> = {
  invalid_request: 400,
  invalid: 422,
  not_found: 404,
  conflict: 409,
  declined: 402,
  forbidden: 403,
  limited: 429,
  unavailable: 503,
};

/** The problem+json an application refusal becomes, with its Retry-After when it has one. */
export function problemFromAppError(error: AppError): ProblemError {
  const headers: Record<string, string> =
    error.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(error.retryAfterSeconds) };
  return new ProblemError(STATUS_OF_KIND[error.kind], error.code, error.detail, error.extensions, headers);
}
