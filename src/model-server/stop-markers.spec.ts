import { SseDataParser } from './sse-parser';
import { StopMarkerStripper, stripStopMarkers } from './stop-markers';

describe(StopMarkerStripper.name, () => {
  const run = (chunks: string[]) => {
    const sut = new StopMarkerStripper();
    return chunks.map((c) => sut.push(c)).join('') + sut.flush();
  };

  it('should remove markers split across chunks', () => {
    expect(run(['def f():', ' return 1<|E', 'OT|>'])).toBe('def f(): return 1');
    expect(run(['x\n# --- Generation ', 'Comp', 'lete ---'])).toBe('x\n');
    expect(run(['a</', 'c>b[END_OF_', 'GENERATION]<|im_', 'end|>'])).toBe('ab');
  });

  it('should release a held tail that never became a marker', () => {
    expect(run(['items[', '0] # -', '- comment <', '= 3'])).toBe('items[0] # -- comment <= 3');
    expect(run(['ends with <|'])).toBe('ends with <|');
  });

  it('should match stripStopMarkers on whole text', () => {
    const text = 'print(1)<|EOT|>\n# --- Generation Complete ---';
    expect(run(text.split(''))).toBe(stripStopMarkers(text));
  });
});

describe(SseDataParser.name, () => {
  it('should yield data payloads across arbitrary chunk boundaries and CRLF', () => {
    const got: string[] = [];
    const sut = new SseDataParser((d) => got.push(d));
    const stream =
      'data: {"a":1}\n\ndata: {"b":2}\r\n\r\n: comment\n\nevent: x\ndata: l1\ndata: l2\n\ndata: [DONE]\n\n';
    for (let i = 0; i < stream.length; i += 3) sut.push(stream.slice(i, i + 3));
    expect(got).toEqual(['{"a":1}', '{"b":2}', 'l1\nl2', '[DONE]']);
    expect(sut.hasPending).toBe(false);
  });
});
