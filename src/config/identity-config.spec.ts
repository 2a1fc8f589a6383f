import { ConfigValidationError, loadConfig } from './app-config';

const PROD_SECRET = 'a-production-secret-key-of-at-least-32-chars';

describe('AppConfig identity and limits', () => {
  it('should default registration to closed in production and open elsewhere', () => {
    expect(
      loadConfig({ ENVIRONMENT: 'production', SECRET_KEY: PROD_SECRET, VLLM_SERVER_URL: 'http://vllm:8000' }).security
        .registrationMode,
    ).toBe('closed');
    expect(loadConfig({ ENVIRONMENT: 'development' }).security.registrationMode).toBe('open');
    expect(loadConfig({ ENVIRONMENT: 'development', REGISTRATION_MODE: 'Closed' }).security.registrationMode).toBe(
      'closed',
    );
    expect(
      loadConfig({
        ENVIRONMENT: 'production',
        SECRET_KEY: PROD_SECRET,
        VLLM_SERVER_URL: 'http://vllm:8000',
        REGISTRATION_MODE: 'open',
      }).security.registrationMode,
    ).toBe('open');
  });

  it('should expose limits, token lifetime and the auth cache TTL in their units', () => {
    const sut = loadConfig({
      RATE_LIMIT_RULES: '/code/generate=5/10s',
      MAX_CONCURRENT_STREAMS: '3',
      ACCESS_TOKEN_EXPIRE_MINUTES: '15',
      AUTH_CACHE_TTL_SECONDS: '4',
    });
    expect(sut.rateLimit.rules).toEqual([{ route: '/code/generate', limit: 5, windowMs: 10_000 }]);
    expect(sut.rateLimit.maxConcurrentStreams).toBe(3);
    expect(sut.security.accessTokenTtlSeconds).toBe(900);
    expect(sut.security.authCacheTtlMs).toBe(4000);
    expect(sut.security.adminApiKey).toBeUndefined();
  });

  it('should report every bad identity variable at once and mask the admin key', () => {
    let error: ConfigValidationError | undefined;
    try {
      loadConfig({
        REGISTRATION_MODE: 'maybe',
        ADMIN_API_KEY: 'short',
        RATE_LIMIT_RULES: '/x=many/1m',
        MAX_CONCURRENT_STREAMS: '0',
      });
    } catch (e) {
      error = e as ConfigValidationError;
    }
    expect(error?.problems.map((p) => p.split(':')[0]).sort()).toEqual([
      'ADMIN_API_KEY',
      'MAX_CONCURRENT_STREAMS',
      'RATE_LIMIT_RULES',
      'REGISTRATION_MODE',
    ]);
    const ok = loadConfig({ ADMIN_API_KEY: 'x'.repeat(30) });
    expect(ok.toPublicJson().ADMIN_API_KEY).toBe('********');
  });
});
