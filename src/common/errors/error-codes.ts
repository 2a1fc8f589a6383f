/** The 22 HAPA error codes (spec §3). The first nine are fixed by the original product. */
export enum ErrorCode {
  E4001 = 'E4001',
  E4002 = 'E4002',
  E4003 = 'E4003',
  E4004 = 'E4004',
  E4005 = 'E4005',
  E4006 = 'E4006',
  E4007 = 'E4007',
  E4008 = 'E4008',
  E4009 = 'E4009',
  E4010 = 'E4010',
  E4011 = 'E4011',
  E4012 = 'E4012',
  E4013 = 'E4013',
  E5001 = 'E5001',
  E5002 = 'E5002',
  E5003 = 'E5003',
  E5004 = 'E5004',
  E5005 = 'E5005',
  E5006 = 'E5006',
  E5007 = 'E5007',
  E5008 = 'E5008',
  E5009 = 'E5009',
}

export interface ErrorDefinition {
  /** HTTP status of a response carrying this code. E5002 never fails a request; 503 is used only if it ever must. */
  status: number;
  /** Default client-facing message. */
  message: string;
  retryable: boolean;
}

// A Record over the enum: adding a code without a mapping fails to compile.
export const ERROR_CATALOGUE: Record<ErrorCode, ErrorDefinition> = {
  E4001: { status: 400, message: 'Invalid input format', retryable: false },
  E4002: { status: 422, message: 'Missing required field', retryable: false },
  E4003: { status: 401, message: 'Invalid API key or credentials', retryable: false },
  E4004: { status: 429, message: 'Rate limit exceeded', retryable: true },
  E4005: { status: 403, message: 'Permission denied', retryable: false },
  E4006: { status: 422, message: 'Invalid field value', retryable: false },
  E4007: { status: 422, message: 'Unsupported language: only python is supported', retryable: false },
  E4008: { status: 413, message: 'Request too large', retryable: false },
  E4009: { status: 404, message: 'Not found', retryable: false },
  E4010: { status: 401, message: 'API key or token expired', retryable: false },
  E4011: { status: 400, message: 'Unsafe input blocked', retryable: false },
  E4012: { status: 409, message: 'Conflict', retryable: false },
  E4013: { status: 429, message: 'Too many concurrent requests for this key', retryable: true },
  E5001: { status: 504, message: 'AI model timeout', retryable: true },
  E5002: { status: 503, message: 'Cache service error', retryable: true },
  E5003: { status: 503, message: 'Database connection error', retryable: true },
  E5004: { status: 500, message: 'Internal server error', retryable: false },
  E5005: { status: 503, message: 'AI model unavailable', retryable: true },
  E5006: { status: 502, message: 'AI model returned an error', retryable: true },
  E5007: { status: 502, message: 'AI stream interrupted', retryable: true },
  E5008: { status: 503, message: 'Server overloaded or shutting down', retryable: true },
  E5009: { status: 503, message: 'Rate-limit store unavailable', retryable: true },
};

export const isServerError = (code: ErrorCode): boolean => code.startsWith('E5');
