import { STATUS_CODES, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { ERROR_CATALOGUE, ErrorCode } from '../errors/error-codes';
import { openAiErrorBody } from '../errors/openai-errors';
import { newIncidentId } from '../errors/incident-id';

interface ParserError extends Error {
  code?: string;
  rawPacket?: Buffer;
}

/**
 * Requests Node's HTTP parser refuses before the application sees them (headers over the size limit, a
 * malformed request line, headers that never finished arriving) get the catalogue's envelope instead of
 * Node's bare status line, so a client still reads an error code. /v1 requests get OpenAI's envelope.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: ParserError, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable || (socket as Duplex & { bytesWritten?: number }).bytesWritten) {
      socket.destroy();
      return;
    }
    const [status, code, message] = classify(err);
    const incidentId = newIncidentId();
    const head = err.rawPacket?.toString('latin1', 0, 64) ?? '';
    const body = /^[A-Z]+ \/v1[/?\s]/.test(head)
      ? openAiErrorBody({ status, message, type: 'invalid_request_error', param: null, code }, incidentId)
      : JSON.stringify({
          status: 'error',
          error_code: code,
          message,
          incident_id: incidentId,
          timestamp: new Date().toISOString(),
        });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
}

function classify(err: ParserError): [number, ErrorCode, string] {
  if (err.code === 'HPE_HEADER_OVERFLOW') return [431, ErrorCode.E4008, 'Request headers too large'];
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, ErrorCode.E4001, 'Request not received in time'];
  return [400, ErrorCode.E4001, `${ERROR_CATALOGUE.E4001.message}: malformed HTTP request`];
}
