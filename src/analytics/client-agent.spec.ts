import { clientFromUserAgent } from './client-agent';

describe('clientFromUserAgent', () => {
  it('should keep the product tokens before the first comment', () => {
    expect(clientFromUserAgent('OpenAI/JS 6.30.1')).toBe('OpenAI/JS 6.30.1');
    expect(clientFromUserAgent('Mozilla/5.0 (X11; Linux x86_64) Chrome/120')).toBe('Mozilla/5.0');
    expect(clientFromUserAgent(['curl/8.5.0', 'other'])).toBe('curl/8.5.0');
  });

  it('should store only printable text of a bounded length, or nothing', () => {
    expect(clientFromUserAgent('evil\u0000\nagent\t2')).toBe('evilagent2');
    expect(clientFromUserAgent('x'.repeat(500))).toHaveLength(64);
    expect(clientFromUserAgent('')).toBeUndefined();
    expect(clientFromUserAgent(undefined)).toBeUndefined();
    expect(clientFromUserAgent('(only a comment)')).toBeUndefined();
  });
});
