import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CATALOGUE, ErrorCode } from '../errors/error-codes';
import { newIncidentId } from '../errors/incident-id';

interface ParserError extends Error {
  code?: string;
}

/** What answerClientErrors needs of JsonLogger (common/http does not depend on the logger's options). */
export interface ClientErrorLogger {
  write(level: 'warn', msg: string, fields: Record<string, unknown>): void;
}

// A client that never reads the answer nor closes its side must not keep a descriptor.
const LINGER_MS = 2_000;

/**
 * Requests Node's HTTP parser refuses before the application sees them (headers over the size limit, a
 * malformed request line, headers that never finished arriving) get a coded error instead of Node's bare
 * status line. The request line may not have been parsed, so the body serves both envelopes: the HAPA
 * fields and OpenAI's `error` object. Logged at most once a second (a flood of garbage is one line).
 */
export function answerClientErrors(server: Server, logger: ClientErrorLogger): void {
  let lastLogAt = 0;
  let unlogged = 0;
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    // Node's own rule: once a response on this connection has started, nothing more may be written to it.
    const started = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || started) {
      socket.destroy();
      return;
    }
    const [status, code, message] = classify(err);
    const incidentId = newIncidentId();
    const now = Date.now();
    if (now - lastLogAt >= 1000) {
      logger.write('warn', 'request refused by the HTTP parser', {
        status,
        error_code: code,
        parser_error: err.code,
        incident_id: incidentId,
        ...(unlogged > 0 ? { unlogged_since_last: unlogged } : {}),
      });
      lastLogAt = now;
      unlogged = 0;
    } else unlogged++;
    const body = JSON.stringify({
      status: 'error',
      error_code: code,
      message,
      incident_id: incidentId,
      timestamp: new Date(now).toISOString(),
      error: { message, type: 'invalid_request_error', param: null, code },
    });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      () => socket.destroy(),
    );
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  });
}

function classify(err: ParserError): [number, ErrorCode, string] {
  if (err.code === 'HPE_HEADER_OVERFLOW') return [431, ErrorCode.E4008, 'Request headers too large'];
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, ErrorCode.E4001, 'Request not received in time'];
  return [400, ErrorCode.E4001, `${ERROR_CATALOGUE.E4001.message}: malformed HTTP request`];
}
