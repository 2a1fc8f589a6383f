import { AppException } from '../common/errors/app.exception';
import { readMessages, renderChat } from './chat-prompt';

describe('readMessages', () => {
  it('should join text parts with newlines, as vLLM does, and drop cache_control', () => {
    expect(
      readMessages([
        { role: 'system', content: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'a' },
            { type: 'text', text: 'b' },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [] },
      ]),
    ).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'a\nb' },
      { role: 'assistant', content: '' },
    ]);
  });

  it.each([
    [[], 'messages'],
    ['hi', 'messages'],
    [[null], 'messages[0]'],
    [[{ content: 'x' }], 'messages[0].role'],
    [[{ role: 'user', content: 42 }], 'messages[0].content'],
    [[{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }], 'messages[0].content[0]'],
    [[{ role: 'wizard', content: 'x' }], 'messages[0].role'],
    [[{ role: 'user' }], 'messages[0].content'],
    [[{ role: 'tool', content: null }], 'messages[0].content'],
    [[{ role: 'user', content: [] }], 'messages[0].content'],
    [[{ role: 'user', content: [{ type: 'text' }] }], 'messages[0].content[0].text'],
  ])('should refuse %j naming %s', (raw, field) => {
    try {
      readMessages(raw);
      throw new Error('accepted');
    } catch (e) {
      expect(e).toBeInstanceOf(AppException);
      expect((e as AppException).details?.[0].field).toBe(field);
    }
  });
});

describe('renderChat', () => {
  it("should render the adapter's instruction format with its system prompt first", () => {
    const prompt = renderChat('bug_fix', [
      { role: 'system', content: 'Answer in English.' },
      { role: 'user', content: 'Fix: def f(x): return x.y' },
      { role: 'assistant', content: 'def f(x): return x' },
      { role: 'user', content: 'Now add a docstring' },
    ]);
    expect(prompt).toBe(
      'You are HAPA, a Python coding assistant. Fix the bug in the Python code and explain the fix.\n\n' +
        'Answer in English.\n' +
        '### Instruction:\nFix: def f(x): return x.y\n' +
        '### Response:\ndef f(x): return x\n<|EOT|>\n' +
        '### Instruction:\nNow add a docstring\n' +
        '### Response:\n',
    );
  });
});
