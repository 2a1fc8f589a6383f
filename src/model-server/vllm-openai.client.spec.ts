import { FrameReader } from './model-server.types';
import { readTokenFrame, VllmOpenAiClient, vllmErrorMessage } from './vllm-openai.client';

function recorder() {
  const seen: { text: string[]; finish: string[]; usage: number[][]; ended: boolean; failed: string[] } = {
    text: [],
    finish: [],
    usage: [],
    ended: false,
    failed: [],
  };
  const reader: FrameReader = {
    text: (d) => seen.text.push(d),
    finish: (r) => seen.finish.push(r),
    usage: (p, c) => seen.usage.push([p, c]),
    end: () => (seen.ended = true),
    fail: (m) => seen.failed.push(m),
  };
  return { seen, reader };
}

const frame = (text: string, finish: string | null = null) =>
  `{"id":"cmpl-1","object":"text_completion","created":1,"model":"prompt","choices":[{"index":0,"text":${JSON.stringify(
    text,
  )},"logprobs":null,"finish_reason":${finish === null ? 'null' : JSON.stringify(finish)},"stop_reason":null}],"usage":null}`;

describe(VllmOpenAiClient.name, () => {
  const sut = new VllmOpenAiClient();

  it('should read the text of a token frame exactly as JSON.parse would, escapes included', () => {
    const samples = [
      'def f():',
      '\n    return "x"',
      'a\\b',
      'tab\there',
      'quote \\" end',
      'unicode é ✓ \u2028',
      '',
      '"',
    ];
    for (const text of samples) {
      const { seen, reader } = recorder();
      expect(readTokenFrame(frame(text), reader)).toBe(true);
      expect(seen.text.join('')).toBe(text);
    }
  });

  it('should report the finish reason of the last frame', () => {
    const { seen, reader } = recorder();
    sut.readFrame(frame('done', 'length'), reader);
    expect(seen.finish).toEqual(['length']);
  });

  it('should leave frames with usage or an error to the full parser', () => {
    const withUsage = frame('x').replace('"usage":null', '"usage":{"prompt_tokens":3,"completion_tokens":4}');
    expect(readTokenFrame(withUsage, recorder().reader)).toBe(false);
    const { seen, reader } = recorder();
    sut.readFrame(withUsage, reader);
    expect(seen.text).toEqual(['x']);
    expect(seen.usage).toEqual([[3, 4]]);
    const error = recorder();
    sut.readFrame('{"error":{"message":"boom","type":"InternalServerError","code":500}}', error.reader);
    expect(error.seen.failed).toEqual(['boom']);
  });

  it('should read vLLM errors in the current and the older shape', () => {
    expect(vllmErrorMessage({ error: { message: 'maximum context length is 4096' } })).toBe(
      'maximum context length is 4096',
    );
    expect(vllmErrorMessage({ object: 'error', message: 'older shape' })).toBe('older shape');
    expect(vllmErrorMessage({ choices: [] })).toBeUndefined();
    expect(sut.errorMessage(400, '{"error":{"message":"bad input","type":"BadRequestError"}}')).toBe(
      'HTTP 400: bad input',
    );
  });
});
