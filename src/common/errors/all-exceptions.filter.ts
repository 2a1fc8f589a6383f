import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import { sqlState } from '../batching/salvage';
import { AppRequest, AppResponse, routeTemplate } from '../http/app-request';
import { AppException, Mapped } from './app.exception';

export type { Mapped };
import { ERROR_CATALOGUE, ErrorCode, isServerError } from './error-codes';
import { ErrorEvent, ErrorReporter } from './error-reporter';
import { maskUrlUserInfo } from '../../config/mask-url';
import { newIncidentId } from './incident-id';
import { isOpenAiPath, openAiErrorBody, retryAfter, toOpenAiError } from './openai-errors';

const BY_HTTP_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.E4001,
  401: ErrorCode.E4003,
  403: ErrorCode.E4005,
  404: ErrorCode.E4009,
  409: ErrorCode.E4012,
  413: ErrorCode.E4008,
  415: ErrorCode.E4001,
  422: ErrorCode.E4006,
  429: ErrorCode.E4004,
  503: ErrorCode.E5008,
  504: ErrorCode.E5001,
};

export function mapException(exception: unknown): Mapped {
  if (exception instanceof AppException) {
    return {
      code: exception.code,
      status: exception.status,
      message: exception.message,
      details: exception.details,
      headers: exception.headers,
      internal: exception.cause ? describe(exception.cause) : undefined,
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = BY_HTTP_STATUS[status] ?? (status >= 500 ? ErrorCode.E5004 : ErrorCode.E4001);
    // Framework messages for 4xx are safe ("Cannot POST /x" is replaced for a neutral one); 5xx are not.
    const message = code === ErrorCode.E4009 ? 'Route not found' : ERROR_CATALOGUE[code].message;
    return { code, status: ERROR_CATALOGUE[code].status, message, internal: exception.message };
  }
  if (databaseUnavailable(exception)) {
    return {
      code: ErrorCode.E5003,
      status: ERROR_CATALOGUE.E5003.status,
      message: ERROR_CATALOGUE.E5003.message,
      headers: { 'Retry-After': '5' },
      internal: describe(exception),
    };
  }
  return {
    code: ErrorCode.E5004,
    status: 500,
    message: ERROR_CATALOGUE.E5004.message,
    internal: describe(exception),
  };
}

// Connection-level failures (not query errors): PostgreSQL SQLSTATE classes 08 and 57P, pool and socket errors.
const DB_DOWN_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '53300', '57P01', '57P02', '57P03']);
const DB_DOWN_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|connection is not established|not currently accepting connections|does not allow connections|database system is (starting up|shutting down)|too many clients/i;

function databaseUnavailable(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const { code: raw } = e as { code?: unknown };
  const code = sqlState(e) ?? (typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '');
  return DB_DOWN_CODES.has(code) || code.startsWith('08') || DB_DOWN_MESSAGE.test(e.message);
}

function describe(e: unknown): string {
  return maskUrlUserInfo(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
}

const maskStack = (stack?: string) => (stack === undefined ? undefined : maskUrlUserInfo(stack));

/** The record error monitoring gets for an error answered to `req` (as a response or in-band). */
export function errorEvent(req: AppRequest, mapped: Mapped, incidentId: string, exception?: unknown): ErrorEvent {
  return {
    code: mapped.code,
    status: mapped.status,
    message: mapped.message,
    route: routeTemplate(req),
    method: req.method,
    path: req.path,
    requestId: req.id,
    incidentId,
    apiKeyId: req.principal?.apiKeyId,
    userId: req.principal?.userId,
    at: new Date(),
    internal: mapped.internal,
    stack: isServerError(mapped.code) && exception instanceof Error ? maskStack(exception.stack) : undefined,
  };
}

/** Maps an error answered to `req` (as a response or in-band), gives it an incident id and reports it. */
export function reportException(
  reporter: ErrorReporter,
  req: AppRequest,
  exception: unknown,
): { mapped: Mapped; incidentId: string } {
  const mapped = mapException(exception);
  const incidentId = newIncidentId();
  reporter.report(errorEvent(req, mapped, incidentId, exception));
  return { mapped, incidentId };
}

/**
 * The one error path: maps anything thrown to the spec §3 envelope, reports it to error
 * monitoring and never writes once headers are out (a started SSE stream reports in-band).
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  constructor(private readonly reporter: ErrorReporter) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const req = ctx.getRequest<AppRequest>();
    const res = ctx.getResponse<AppResponse>();
    // The client left: there is nobody to answer and nothing went wrong on our side.
    if (exception instanceof Error && exception.name === 'ClientGoneError') {
      if (!res.writableEnded) res.end();
      return;
    }
    const { mapped, incidentId } = reportException(this.reporter, req, exception);

    if (res.headersSent) {
      if (!res.writableEnded) res.end();
      return;
    }
    // The OpenAI-compatible surface answers in OpenAI's envelope, whatever raised (body parser, guards, routing).
    if (isOpenAiPath(req.path)) return writeOpenAiError(res, mapped, incidentId);
    const body: Record<string, unknown> = {
      status: 'error',
      error_code: mapped.code,
      message: mapped.message,
      incident_id: incidentId,
      timestamp: new Date().toISOString(),
      path: req.originalUrl.split('?')[0],
      request_id: req.id,
    };
    if (mapped.details) body.details = mapped.details;
    // The extension reads a 4xx body on the stream routes as stream events.
    if (res.locals.sseErrorEnvelope) Object.assign(body, { type: 'error', content: mapped.message });
    if (mapped.headers) for (const [k, v] of Object.entries(mapped.headers)) res.setHeader(k, v);
    if (ERROR_CATALOGUE[mapped.code].retryable && !res.hasHeader('Retry-After') && mapped.status !== 504) {
      res.setHeader('Retry-After', mapped.status === 429 ? '60' : '5');
    }
    res.status(mapped.status).json(body);
  }
}

function writeOpenAiError(res: AppResponse, mapped: Mapped, incidentId: string): void {
  const e = toOpenAiError(mapped);
  for (const [k, v] of Object.entries(mapped.headers ?? {})) res.setHeader(k, v);
  const retry = retryAfter(mapped, e.status);
  if (retry !== undefined) res.setHeader('Retry-After', retry);
  res.status(e.status).type('application/json').send(openAiErrorBody(e, incidentId));
}
