import { isVllmError, readVllmError } from './vllm-error';

describe('readVllmError', () => {
  it('should read the current shape {"error":{"message"}}', () => {
    const body = JSON.stringify({
      error: { message: 'top_k must be -1 (disable), or at least 1, got -5.', type: 'BadRequestError', code: 400 },
    });
    expect(readVllmError(body)).toEqual({
      message: 'top_k must be -1 (disable), or at least 1, got -5.',
      contextTooLong: false,
    });
  });

  it('should read the older shape {"object":"error","message"}', () => {
    const message =
      "This model's maximum context length is 16384 tokens. However, you requested 17000 tokens (16000 in the messages, 1000 in the completion).";
    expect(readVllmError(JSON.stringify({ object: 'error', message, type: 'BadRequestError', code: 400 }))).toEqual({
      message,
      contextTooLong: true,
    });
  });

  it('should recognise the newer context-length wording and a parsed body', () => {
    const v = readVllmError({
      error: { message: 'The decoder prompt (length 20000) is longer than the maximum model length of 16384.' },
    });
    expect(v.contextTooLong).toBe(true);
    expect(readVllmError({ error: { message: 'max_tokens exceeds the maximum context length' } }).contextTooLong).toBe(
      true,
    );
  });

  it('should give no message for bodies in neither shape', () => {
    expect(readVllmError('<html>502 Bad Gateway</html>')).toEqual({ contextTooLong: false });
    expect(readVllmError('{"detail":[{"msg":"x"}]}')).toEqual({ contextTooLong: false });
    expect(readVllmError('null')).toEqual({ contextTooLong: false });
  });
});

describe('isVllmError', () => {
  it('should tell error frames from chunks in both shapes', () => {
    expect(isVllmError({ error: { message: 'x' } })).toBe(true);
    expect(isVllmError({ object: 'error', message: 'x' })).toBe(true);
    expect(isVllmError({ object: 'text_completion', choices: [] })).toBe(false);
    expect(isVllmError({ choices: [], error: null })).toBe(false);
  });
});
