import { ChunkFramer } from './openai-sse';

const parse = (frame: string) => {
  expect(frame.startsWith('data: ')).toBe(true);
  expect(frame.endsWith('\n\n')).toBe(true);
  return JSON.parse(frame.slice(6, -2));
};

describe(ChunkFramer.name, () => {
  it('should frame text_completion chunks, then the finish and usage chunks', () => {
    const sut = new ChunkFramer('text_completion', 'cmpl-1', 1796000000, 'hapa-autocomplete');
    expect(parse(sut.token('a "quoted"\nline'))).toEqual({
      id: 'cmpl-1',
      object: 'text_completion',
      created: 1796000000,
      model: 'hapa-autocomplete',
      choices: [{ index: 0, text: 'a "quoted"\nline', logprobs: null, finish_reason: null }],
    });
    expect(parse(sut.finish('length')).choices).toEqual([
      { index: 0, text: '', logprobs: null, finish_reason: 'length' },
    ]);
    expect(parse(sut.usage({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 }))).toMatchObject({
      object: 'text_completion',
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });

  it('should send the assistant role in the first chat chunk only', () => {
    const sut = new ChunkFramer('chat', 'chatcmpl-1', 1, 'model "with" quotes');
    const first = parse(sut.token('def'));
    expect(first).toMatchObject({ object: 'chat.completion.chunk', model: 'model "with" quotes' });
    expect(first.choices[0]).toEqual({
      index: 0,
      delta: { role: 'assistant', content: 'def' },
      logprobs: null,
      finish_reason: null,
    });
    expect(parse(sut.token(' f')).choices[0].delta).toEqual({ content: ' f' });
    expect(parse(sut.finish('stop')).choices[0]).toEqual({
      index: 0,
      delta: {},
      logprobs: null,
      finish_reason: 'stop',
    });
  });

  it('should still send the role when the answer has no text', () => {
    const sut = new ChunkFramer('chat', 'chatcmpl-2', 1, 'hapa-code');
    expect(parse(sut.finish('stop')).choices[0].delta).toEqual({ role: 'assistant', content: '' });
  });

  it('should keep unicode and control characters intact', () => {
    const sut = new ChunkFramer('chat', 'x', 1, 'm');
    const text = 'ünï\u2028\u0000😀';
    expect(parse(sut.token(text)).choices[0].delta.content).toBe(text);
  });
});
