import { canonicalRoute, DEFAULT_RATE_LIMIT_RULES, parseRateLimitRules } from './rate-limit-rules';

describe(parseRateLimitRules.name, () => {
  it('should parse the seeds defaults', () => {
    expect(parseRateLimitRules(DEFAULT_RATE_LIMIT_RULES)).toEqual([
      { route: '/code/generate', limit: 50, windowMs: 60_000 },
      { route: '/code/generate/stream', limit: 20, windowMs: 60_000 },
      { route: '/errors/dashboard', limit: 100, windowMs: 60_000 },
    ]);
  });

  it('should accept bare units, other windows, spaces and empty entries', () => {
    expect(parseRateLimitRules(' /a=5/minute , /b/=7/30s,, /c=1/2h ')).toEqual([
      { route: '/a', limit: 5, windowMs: 60_000 },
      { route: '/b', limit: 7, windowMs: 30_000 },
      { route: '/c', limit: 1, windowMs: 7_200_000 },
    ]);
    expect(parseRateLimitRules('')).toEqual([]);
  });

  it('should fold aliases onto their canonical route', () => {
    expect(parseRateLimitRules('/generate-code=10/1m')).toEqual([
      { route: '/code/generate', limit: 10, windowMs: 60_000 },
    ]);
    expect(canonicalRoute('/enhanced-stream-generate')).toBe('/code/generate/stream');
    expect(canonicalRoute('/code/enhanced-stream-generate')).toBe('/code/generate/stream');
    expect(canonicalRoute('/code/complete')).toBe('/code/complete');
  });

  it.each(['code/generate=5/1m', '/a=x/1m', '/a=5/1y', '/a=0/1m', '/a=5/0m', '/a=5'])('should reject "%s"', (raw) => {
    expect(() => parseRateLimitRules(raw)).toThrow(/bad rule/);
  });
});
