import { mapException } from './all-exceptions.filter';
import { AppException } from './app.exception';
import { ErrorCode } from './error-codes';
import { openAiErrorBody, retryAfter, streamErrorFrames, toOpenAiError, TOOLS_NOT_SUPPORTED } from './openai-errors';

const of = (code: ErrorCode, opts: ConstructorParameters<typeof AppException>[1] = {}) =>
  toOpenAiError(mapException(new AppException(code, opts)));

describe('toOpenAiError', () => {
  it.each([
    [ErrorCode.E4001, 400, 'invalid_request_error', 'E4001'],
    [ErrorCode.E4011, 400, 'invalid_request_error', 'E4011'],
    [ErrorCode.E4003, 401, 'authentication_error', 'invalid_api_key'],
    [ErrorCode.E4010, 401, 'authentication_error', 'expired_api_key'],
    [ErrorCode.E4005, 403, 'permission_error', 'E4005'],
    [ErrorCode.E4008, 400, 'invalid_request_error', 'context_length_exceeded'],
    [ErrorCode.E4009, 404, 'invalid_request_error', 'E4009'],
    [ErrorCode.E4004, 429, 'rate_limit_error', 'rate_limit_exceeded'],
    [ErrorCode.E4013, 429, 'rate_limit_error', 'concurrency_limit_exceeded'],
    [ErrorCode.E5001, 504, 'server_error', 'E5001'],
    [ErrorCode.E5003, 503, 'server_error', 'E5003'],
    [ErrorCode.E5005, 503, 'server_error', 'E5005'],
    [ErrorCode.E5008, 503, 'server_error', 'E5008'],
    [ErrorCode.E5009, 503, 'server_error', 'E5009'],
    [ErrorCode.E5006, 502, 'server_error', 'E5006'],
    [ErrorCode.E5007, 502, 'server_error', 'E5007'],
    [ErrorCode.E5004, 500, 'server_error', 'E5004'],
  ])('should map %s to HTTP %i %s / %s', (code, status, type, openAiCode) => {
    expect(of(code)).toMatchObject({ status, type, code: openAiCode, param: null });
  });

  it('should name the field in param for validation errors', () => {
    for (const code of [ErrorCode.E4002, ErrorCode.E4006, ErrorCode.E4007]) {
      expect(of(code, { details: [{ field: 'max_tokens', message: 'x' }] })).toMatchObject({
        status: 400,
        type: 'invalid_request_error',
        code,
        param: 'max_tokens',
      });
    }
  });

  it('should say what is wrong in message, as the SDKs show only message', () => {
    const details = [
      { field: 'temperature', message: 'temperature must not be greater than 2' },
      { field: 'n', message: 'n must be 1' },
    ];
    expect(of(ErrorCode.E4006, { details }).message).toBe(
      'Invalid field value: temperature must not be greater than 2; n must be 1',
    );
    // a detail the message already says, or a machine code, is not repeated
    const tools = of(ErrorCode.E4006, {
      message: 'Tool calls are not supported',
      details: [{ field: 'tool_choice', message: TOOLS_NOT_SUPPORTED }],
    });
    expect(tools.message).toBe('Tool calls are not supported');
  });

  it('should call an unknown model model_not_found and tools refusals tools_not_supported', () => {
    expect(of(ErrorCode.E4009, { details: [{ field: 'model', message: 'model_not_found' }] })).toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });
    expect(of(ErrorCode.E4006, { details: [{ field: 'tool_choice', message: TOOLS_NOT_SUPPORTED }] })).toMatchObject({
      status: 400,
      code: 'tools_not_supported',
      param: 'tool_choice',
    });
  });

  it('should keep a context-length message verbatim', () => {
    const message = "This model's maximum context length is 16384 tokens. However, you requested 20000 tokens.";
    expect(of(ErrorCode.E4008, { message }).message).toBe(message);
  });
});

describe('openAiErrorBody and streamErrorFrames', () => {
  it('should write the OpenAI envelope as valid JSON, quotes and newlines escaped', () => {
    const e = of(ErrorCode.E4006, { message: 'bad "x"\nhere', details: [{ field: 'stop', message: 'm' }] });
    expect(JSON.parse(openAiErrorBody(e, 'INC-20261130-0000ABCD'))).toEqual({
      error: {
        message: 'bad "x"\nhere: m',
        type: 'invalid_request_error',
        param: 'stop',
        code: 'E4006',
        incident_id: 'INC-20261130-0000ABCD',
      },
    });
  });

  it('should end an in-stream error with [DONE]', () => {
    const frames = streamErrorFrames(of(ErrorCode.E5007), 'INC-20261130-0000ABCD').split('\n\n');
    expect(JSON.parse(frames[0].slice('data: '.length)).error).toMatchObject({ type: 'server_error', code: 'E5007' });
    expect(frames[1]).toBe('data: [DONE]');
  });
});

describe('retryAfter', () => {
  it('should keep the error own Retry-After, else 60 on 429 and 5 on retryable 503s', () => {
    const limited = mapException(new AppException(ErrorCode.E4004, { headers: { 'Retry-After': '17' } }));
    expect(retryAfter(limited, 429)).toBe('17');
    expect(retryAfter(mapException(new AppException(ErrorCode.E4013)), 429)).toBe('60');
    expect(retryAfter(mapException(new AppException(ErrorCode.E5005)), 503)).toBe('5');
    expect(retryAfter(mapException(new AppException(ErrorCode.E5001)), 504)).toBeUndefined();
    expect(retryAfter(mapException(new AppException(ErrorCode.E4003)), 401)).toBeUndefined();
  });
});
