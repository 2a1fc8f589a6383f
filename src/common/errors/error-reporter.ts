import { Injectable } from '@nestjs/common';
import { AppLogger } from '../logging/json-logger';
import { ErrorCode, isServerError } from './error-codes';

/** One error response, as handed to error monitoring. */
export interface ErrorEvent {
  code: ErrorCode;
  status: number;
  message: string;
  /** Route template (e.g. /api/v1/code/generate), or 'unmatched': bounded cardinality. */
  route: string;
  method: string;
  path: string;
  requestId: string;
  incidentId: string;
  apiKeyId?: string;
  userId?: string;
  at: Date;
  /** Internal detail for logs/incidents only; never sent to the client. */
  internal?: string;
  stack?: string;
}

/**
 * Port through which every error response is reported. The default logs; the ErrorMonitoring
 * module replaces it with one that persists in batches. report() must never throw or block.
 */
export abstract class ErrorReporter {
  abstract report(event: ErrorEvent): void;
}

/** Logs every error: server errors at error level with the internal cause, client errors at debug. */
@Injectable()
export class LoggingErrorReporter extends ErrorReporter {
  constructor(private readonly logger: AppLogger) {
    super();
  }

  report(e: ErrorEvent): void {
    const server = isServerError(e.code);
    if (!this.logger.isEnabled(server ? 'error' : 'debug')) return;
    this.logger.write(server ? 'error' : 'debug', e.message, {
      error_code: e.code,
      status: e.status,
      incident_id: e.incidentId,
      request_id: e.requestId,
      route: e.route,
      internal: e.internal,
      stack: e.stack,
    });
  }
}
