import { ERROR_CATALOGUE, ErrorCode } from './error-codes';

export interface FieldProblem {
  field: string;
  message: string;
}

export interface AppExceptionOptions {
  /** Client-facing message; defaults to the catalogue's. Never put internals or secrets here. */
  message?: string;
  details?: FieldProblem[];
  headers?: Record<string, string>;
  /** Internal cause: logged and recorded, never sent to the client. */
  cause?: unknown;
}

/** The one exception services throw: a catalogue code plus what the client may see. */
export class AppException extends Error {
  readonly status: number;
  readonly details?: FieldProblem[];
  readonly headers?: Record<string, string>;

  constructor(
    readonly code: ErrorCode,
    options: AppExceptionOptions = {},
  ) {
    super(options.message ?? ERROR_CATALOGUE[code].message, { cause: options.cause });
    this.name = 'AppException';
    this.status = ERROR_CATALOGUE[code].status;
    this.details = options.details;
    this.headers = options.headers;
  }
}

/** Anything thrown, as the error envelope will carry it (the global filter's mapping). */
export interface Mapped {
  code: ErrorCode;
  status: number;
  message: string;
  details?: FieldProblem[];
  headers?: Record<string, string>;
  internal?: string;
}
