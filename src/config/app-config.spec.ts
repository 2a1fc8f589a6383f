import { AppConfig, ConfigValidationError, loadConfig } from './app-config';
import { EXAMPLE_SECRET_KEY } from './env.schema';

describe(AppConfig.name, () => {
  it('should apply every default from an empty environment', () => {
    const sut = loadConfig({});
    expect(sut.http).toMatchObject({ host: '127.0.0.1', port: 8000, apiPrefix: '/api/v1', maxBodySize: 1024 * 1024 });
    expect(sut.database.url).toBeUndefined();
    expect(sut.redis.url).toBeUndefined();
    expect(sut.rateLimit).toEqual({
      enabled: true,
      defaultLimit: 100,
      completionLimit: 6000,
      apiLimit: 3000,
      windowMs: 3_600_000,
      rules: [
        { route: '/code/generate', limit: 50, windowMs: 60_000 },
        { route: '/code/generate/stream', limit: 20, windowMs: 60_000 },
        { route: '/errors/dashboard', limit: 100, windowMs: 60_000 },
      ],
      maxConcurrentStreams: 4,
    });
    expect(sut.modelServer.timeoutMs).toBe(30_000);
  });

  it('should list every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        RATE_LIMIT_ENABLED: 'maybe',
        DATABASE_URL: 'mysql://x',
        MAX_BODY_SIZE: '10gb',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    const problems = (error as ConfigValidationError).problems.join('\n');
    for (const name of ['PORT', 'LOG_LEVEL', 'RATE_LIMIT_ENABLED', 'DATABASE_URL', 'MAX_BODY_SIZE'])
      expect(problems).toContain(name);
  });

  it('should refuse default or short secrets in production only', () => {
    expect(() =>
      loadConfig({ ENVIRONMENT: 'production', SECRET_KEY: EXAMPLE_SECRET_KEY, VLLM_SERVER_URL: 'http://m:8000' }),
    ).toThrow(/example value/);
    expect(() =>
      loadConfig({ ENVIRONMENT: 'production', SECRET_KEY: 'short', VLLM_SERVER_URL: 'http://m:8000' }),
    ).toThrow(/32/);
    expect(() => loadConfig({ SECRET_KEY: 'short' })).not.toThrow();
  });

  it('should accept case-insensitive levels, byte sizes and REDIS_HOST/PORT', () => {
    const sut = loadConfig({ LOG_LEVEL: 'INFO', MAX_BODY_SIZE: '512kb', REDIS_HOST: 'cache', REDIS_PORT: '6380' });
    expect(sut.logging.level).toBe('info');
    expect(sut.http.maxBodySize).toBe(512 * 1024);
    expect(sut.redis.url).toBe('redis://cache:6380');
  });

  it('should log at debug level when DEBUG is on', () => {
    expect(loadConfig({ DEBUG: 'true', LOG_LEVEL: 'warn' }).logging.level).toBe('debug');
    expect(loadConfig({ LOG_LEVEL: 'warn' }).logging.level).toBe('warn');
  });

  it('should mask secrets in the public view', () => {
    const sut = loadConfig({ DATABASE_URL: 'postgres://u:pw@h/db', AI_MODEL_API_KEY: 'sk-123' });
    const json = JSON.stringify(sut.toPublicJson());
    expect(json).not.toContain('pw@');
    expect(json).not.toContain('sk-123');
    expect(sut.toPublicJson()).toMatchObject({ DATABASE_URL: '********', AI_MODEL_API_KEY: '********', PORT: 8000 });
  });

  it('should mask credentials inside URLs of settings that are not secret', () => {
    const sut = loadConfig({ VLLM_SERVER_URL: 'http://user:secret@m1:8000,hapa+http://tok@m2:8002' });
    expect(sut.toPublicJson().VLLM_SERVER_URL).toBe('http://***@m1:8000,hapa+http://***@m2:8002');
  });
});
