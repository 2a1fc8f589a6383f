import type { Mapped } from './app.exception';
import { ERROR_CATALOGUE, ErrorCode } from './error-codes';

export type OpenAiErrorType =
  'invalid_request_error' | 'authentication_error' | 'permission_error' | 'rate_limit_error' | 'server_error';

export interface OpenAiError {
  status: number;
  message: string;
  type: OpenAiErrorType;
  param: string | null;
  code: string;
}

const TYPE: Record<ErrorCode, OpenAiErrorType> = {
  E4001: 'invalid_request_error',
  E4002: 'invalid_request_error',
  E4003: 'authentication_error',
  E4004: 'rate_limit_error',
  E4005: 'permission_error',
  E4006: 'invalid_request_error',
  E4007: 'invalid_request_error',
  E4008: 'invalid_request_error',
  E4009: 'invalid_request_error',
  E4010: 'authentication_error',
  E4011: 'invalid_request_error',
  E4012: 'invalid_request_error',
  E4013: 'rate_limit_error',
  E5001: 'server_error',
  E5002: 'server_error',
  E5003: 'server_error',
  E5004: 'server_error',
  E5005: 'server_error',
  E5006: 'server_error',
  E5007: 'server_error',
  E5008: 'server_error',
  E5009: 'server_error',
};

// Where OpenAI's clients expect a different status than the HAPA catalogue's (they read 400 as "your request").
const STATUS: Partial<Record<ErrorCode, number>> = {
  E4002: 400,
  E4006: 400,
  E4007: 400,
  E4008: 400,
  E4012: 400,
};

const CODE: Partial<Record<ErrorCode, string>> = {
  E4003: 'invalid_api_key',
  E4010: 'expired_api_key',
  E4004: 'rate_limit_exceeded',
  E4013: 'concurrency_limit_exceeded',
  E4008: 'context_length_exceeded',
};

/** Error codes the gateway uses on /v1 beyond the catalogue's: `param` names the field. */
export const MODEL_NOT_FOUND = 'model_not_found';
export const TOOLS_NOT_SUPPORTED = 'tools_not_supported';

/** The catalogue error as `/v1` answers it (openai.md's mapping table). */
export function toOpenAiError(mapped: Mapped): OpenAiError {
  const field = mapped.details?.[0]?.field;
  let code = CODE[mapped.code] ?? mapped.code;
  if (mapped.code === ErrorCode.E4009 && field === 'model') code = MODEL_NOT_FOUND;
  if (mapped.code === ErrorCode.E4006 && mapped.details?.[0]?.message === TOOLS_NOT_SUPPORTED) {
    code = TOOLS_NOT_SUPPORTED;
  }
  const withParam = [ErrorCode.E4002, ErrorCode.E4006, ErrorCode.E4007, ErrorCode.E4009].includes(mapped.code);
  return {
    status: STATUS[mapped.code] ?? mapped.status,
    message: withDetails(mapped, code),
    type: TYPE[mapped.code],
    param: withParam && field ? field : null,
    code,
  };
}

// The SDKs show only `message`: "Invalid field value(s)" alone would not say what to fix.
function withDetails(mapped: Mapped, code: string): string {
  const problems = (mapped.details ?? [])
    .map((d) => d.message)
    .filter((m) => m && m !== code && !mapped.message.includes(m));
  return problems.length > 0 ? `${mapped.message}: ${problems.join('; ')}` : mapped.message;
}

/** `{"error":{message,type,param,code,incident_id}}`. */
export function openAiErrorBody(e: OpenAiError, incidentId: string): string {
  return (
    `{"error":{"message":${JSON.stringify(e.message)},"type":"${e.type}","param":${e.param === null ? 'null' : JSON.stringify(e.param)},` +
    `"code":${JSON.stringify(e.code)},"incident_id":"${incidentId}"}}`
  );
}

/** Retry-After on 429 and on retryable 503s, unless the error carries its own. */
export function retryAfter(mapped: Mapped, status: number): string | undefined {
  const own = mapped.headers?.['Retry-After'];
  if (own) return own;
  if (!ERROR_CATALOGUE[mapped.code].retryable) return undefined;
  if (status === 429) return '60';
  if (status === 503) return '5';
  return undefined;
}

/** The in-stream error once an SSE stream has started, then the end marker. */
export function streamErrorFrames(e: OpenAiError, incidentId: string): string {
  return `data: ${openAiErrorBody(e, incidentId)}\n\ndata: [DONE]\n\n`;
}

/** True for paths the OpenAI-compatible surface answers (its errors use the OpenAI envelope). */
export function isOpenAiPath(path: string): boolean {
  return path === '/v1' || path.startsWith('/v1/');
}
