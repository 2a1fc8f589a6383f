import {
  budgetOf,
  canonicalRoute,
  DEFAULT_RATE_LIMIT_RULES,
  limitedRoute,
  parseRateLimitRules,
  resolveRateLimitRules,
} from './rate-limit-rules';

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

  it('should accept the JSON object the seeds show', () => {
    const seeds =
      '{"/api/v1/generate-code": "50/minute", "/api/v1/enhanced-stream-generate": "20/minute", ' +
      '"/api/v1/errors/dashboard": "100/minute"}';
    expect(parseRateLimitRules(seeds)).toEqual([
      { route: '/api/v1/generate-code', limit: 50, windowMs: 60_000 },
      { route: '/api/v1/enhanced-stream-generate', limit: 20, windowMs: 60_000 },
      { route: '/api/v1/errors/dashboard', limit: 100, windowMs: 60_000 },
    ]);
    expect(parseRateLimitRules(' {"/code/complete": " 600/1m "} ')).toEqual([
      { route: '/code/complete', limit: 600, windowMs: 60_000 },
    ]);
    expect(parseRateLimitRules('{}')).toEqual([]);
  });

  it.each(['code/generate=5/1m', '/a=x/1m', '/a=5/1y', '/a=0/1m', '/a=5/0m', '/a=5'])('should reject "%s"', (raw) => {
    expect(() => parseRateLimitRules(raw)).toThrow(/bad rule/);
  });

  it.each(['{"/a": 5}', '{"/a": "5/1y"}', '{"a": "5/1m"}', '["/a=5/1m"]', '{"/a": "5/1m"', '{"/a": null}'])(
    'should reject the JSON form %s',
    (raw) => {
      expect(() => parseRateLimitRules(raw)).toThrow(/bad rule/);
    },
  );
});

describe(resolveRateLimitRules.name, () => {
  it('should strip the API prefix and fold aliases onto their canonical route, the last rule winning', () => {
    const rules = parseRateLimitRules(
      '{"/api/v1/generate-code": "50/minute", "/api/v1/enhanced-stream-generate": "20/minute", "/code/generate": "10/1m"}',
    );
    expect(resolveRateLimitRules(rules, '/api/v1')).toEqual([
      { route: '/code/generate', limit: 10, windowMs: 60_000 },
      { route: '/code/generate/stream', limit: 20, windowMs: 60_000 },
    ]);
  });

  it('should keep routes outside the prefix, such as the OpenAI-compatible /v1', () => {
    const rules = parseRateLimitRules('/v1/completions=600/1m,/api/v2/code/complete=5/1s');
    expect(resolveRateLimitRules(rules, '/api/v2')).toEqual([
      { route: '/v1/completions', limit: 600, windowMs: 60_000 },
      { route: '/code/complete', limit: 5, windowMs: 1000 },
    ]);
  });

  it('should know the aliases', () => {
    expect(canonicalRoute('/enhanced-stream-generate')).toBe('/code/generate/stream');
    expect(canonicalRoute('/code/enhanced-stream-generate')).toBe('/code/generate/stream');
    expect(canonicalRoute('/code/complete')).toBe('/code/complete');
  });
});

describe(budgetOf.name, () => {
  it.each([
    ['/code/generate', 'generation'],
    ['/generate-code', 'generation'],
    ['/code/generate/stream', 'generation'],
    ['/enhanced-stream-generate', 'generation'],
    ['/v1/chat/completions', 'generation'],
    ['/code/complete', 'completion'],
    ['/v1/completions', 'completion'],
    ['/v1/fim/completions', 'completion'],
    ['/users/me', 'api'],
    ['/users/profile', 'api'],
    ['/users/settings', 'api'],
    ['/analytics/events', 'api'],
    ['/users/generate-api-key', 'api'],
    ['/v1/models', 'api'],
  ])('should put %s in the %s budget', (route, budget) => {
    expect(budgetOf(route)).toBe(budget);
  });
});

describe(limitedRoute.name, () => {
  it.each([
    ['/api/v1/code/generate', '/code/generate'],
    ['/api/v1/generate-code', '/code/generate'],
    ['/api/v1/users/me', '/users/me'],
    ['/v1/completions', '/v1/completions'],
    ['/api/v1/health', undefined],
    ['/api/v1/health/detailed', undefined],
    ['/health', undefined],
    ['/metrics', undefined],
    ['/docs', undefined],
  ])('should count %s as %s', (template, route) => {
    expect(limitedRoute(template, '/api/v1')).toBe(route);
  });
});
