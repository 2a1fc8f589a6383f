import { existsSync } from 'node:fs';
import { maskUrlUserInfo } from './mask-url';
import { version as APP_VERSION } from '../../package.json';
import { RateLimitRule, resolveRateLimitRules } from './rate-limit-rules';
import { ENV_SCHEMA, EnvError, EnvName, EXAMPLE_SECRET_KEY, ParsedEnv } from './env.schema';

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/**
 * The validated configuration, grouped by concern. It is also the DI token: inject `AppConfig`.
 * Built once at start-up from an env record, so tests can run several instances in one process.
 */
export class AppConfig {
  readonly env: { environment: ParsedEnv['ENVIRONMENT']; isProduction: boolean; debug: boolean; version: string };
  readonly http: {
    host: string;
    port: number;
    /** HTTP worker processes (node:cluster); 1 = this process serves. */
    workers: number;
    apiPrefix: string;
    maxBodySize: number;
    requestTimeoutMs: number;
    shutdownTimeoutMs: number;
    /** Express `trust proxy` (TRUST_PROXY). */
    trustProxy: false | number | string[];
    bodyTimeoutMs: number;
    maxPendingBodiesPerIp: number;
  };
  readonly security: {
    secretKey: string;
    apiKeyExpiryDays: number;
    accessTokenTtlSeconds: number;
    registrationMode: 'open' | 'closed';
    adminApiKey?: string;
    authCacheTtlMs: number;
    /** How long a key verified before the database became unreachable stays valid (0 = never). */
    authStaleMs: number;
    /** Failed authentications per client IP per minute; 0 = unlimited. */
    authFailureLimit: number;
  };
  readonly database: { url?: string; dataDir: string };
  readonly redis: { url?: string; keyPrefix: string; commandTimeoutMs: number };
  readonly cache: { enabled: boolean; ttlSeconds: number; maxSize: number; maxTemperature: number };
  readonly rateLimit: {
    enabled: boolean;
    /** Generation budget (DEFAULT_RATE_LIMIT); a key's own rate_limit replaces it. */
    defaultLimit: number;
    completionLimit: number;
    apiLimit: number;
    windowMs: number;
    rules: RateLimitRule[];
    maxConcurrentStreams: number;
  };
  readonly errorMonitoring: {
    enabled: boolean;
    retentionDays: number;
    incidentTracking: boolean;
    samplePerMinute: number;
  };
  readonly analytics: { retentionDays: number };
  readonly logging: { level: ParsedEnv['LOG_LEVEL']; structured: boolean };
  readonly metrics: { enabled: boolean };
  readonly modelServer: {
    urls: string;
    timeoutMs: number;
    apiKey?: string;
    connectTimeoutMs: number;
    idleTimeoutMs: number;
    maxConnections: number;
    probeIntervalMs: number;
    /** MODEL_ADAPTERS: task -> adapter and adapter -> deployed name overrides. */
    adapterOverrides: Record<string, string>;
    fimTemplate: string;
    fimTemplates: Record<string, string>;
  };
  readonly codeGen: {
    safetyLevel: ParsedEnv['SAFETY_LEVEL'];
    heartbeatMs: number;
    clientStallMs: number;
    maxAnswerBytes: number;
  };

  /** The raw validated values, for /config/status. */
  readonly values: ParsedEnv;

  constructor(v: ParsedEnv) {
    this.values = v;
    const isProduction = v.ENVIRONMENT === 'production';
    this.env = { environment: v.ENVIRONMENT, isProduction, debug: v.DEBUG, version: APP_VERSION };
    this.http = {
      host: v.HOST,
      port: v.PORT,
      workers: v.WORKERS,
      apiPrefix: v.API_V1_PREFIX,
      maxBodySize: v.MAX_BODY_SIZE,
      requestTimeoutMs: v.REQUEST_TIMEOUT * 1000,
      shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT * 1000,
      trustProxy: v.TRUST_PROXY,
      bodyTimeoutMs: v.REQUEST_BODY_TIMEOUT_SECONDS * 1000,
      maxPendingBodiesPerIp: v.MAX_PENDING_BODIES_PER_IP,
    };
    this.security = {
      secretKey: v.SECRET_KEY,
      apiKeyExpiryDays: v.API_KEY_EXPIRY_DAYS,
      accessTokenTtlSeconds: v.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
      registrationMode: v.REGISTRATION_MODE ?? (isProduction ? 'closed' : 'open'),
      adminApiKey: v.ADMIN_API_KEY,
      authCacheTtlMs: v.AUTH_CACHE_TTL_SECONDS * 1000,
      authStaleMs: v.AUTH_STALE_SECONDS * 1000,
      authFailureLimit: v.AUTH_FAILURE_LIMIT,
    };
    this.database = { url: v.DATABASE_URL, dataDir: v.DATA_DIR };
    this.redis = {
      url: v.REDIS_URL ?? (v.REDIS_HOST ? `redis://${v.REDIS_HOST}:${v.REDIS_PORT}` : undefined),
      keyPrefix: v.REDIS_KEY_PREFIX,
      commandTimeoutMs: v.REDIS_COMMAND_TIMEOUT_MS,
    };
    this.cache = {
      enabled: v.CACHE_ENABLED,
      ttlSeconds: v.CACHE_TTL,
      maxSize: v.MAX_CACHE_SIZE,
      maxTemperature: v.CACHE_MAX_TEMPERATURE,
    };
    this.rateLimit = {
      enabled: v.RATE_LIMIT_ENABLED,
      defaultLimit: v.DEFAULT_RATE_LIMIT,
      completionLimit: v.AUTOCOMPLETE_RATE_LIMIT,
      apiLimit: v.API_RATE_LIMIT,
      windowMs: v.RATE_LIMIT_WINDOW_MINUTES * 60_000,
      rules: resolveRateLimitRules(v.RATE_LIMIT_RULES, v.API_V1_PREFIX),
      maxConcurrentStreams: v.MAX_CONCURRENT_STREAMS,
    };
    this.errorMonitoring = {
      enabled: v.ERROR_MONITORING_ENABLED,
      retentionDays: v.ERROR_RETENTION_DAYS,
      incidentTracking: v.INCIDENT_TRACKING_ENABLED,
      samplePerMinute: v.ERROR_SAMPLE_PER_MINUTE,
    };
    this.analytics = { retentionDays: v.ANALYTICS_RETENTION_DAYS };
    this.logging = { level: v.DEBUG ? 'debug' : v.LOG_LEVEL, structured: v.STRUCTURED_LOGGING };
    this.metrics = { enabled: v.PROMETHEUS_ENABLED };
    this.modelServer = {
      urls: v.VLLM_SERVER_URL,
      timeoutMs: v.AI_MODEL_TIMEOUT * 1000,
      apiKey: v.AI_MODEL_API_KEY || undefined,
      connectTimeoutMs: Math.round(v.AI_MODEL_CONNECT_TIMEOUT * 1000),
      idleTimeoutMs: Math.round(v.AI_MODEL_IDLE_TIMEOUT * 1000),
      maxConnections: v.AI_MODEL_MAX_CONNECTIONS,
      probeIntervalMs: Math.round(v.HEALTH_PROBE_INTERVAL * 1000),
      adapterOverrides: v.MODEL_ADAPTERS,
      fimTemplate: v.FIM_TEMPLATE,
      fimTemplates: v.FIM_TEMPLATES,
    };
    this.codeGen = {
      safetyLevel: v.SAFETY_LEVEL,
      heartbeatMs: Math.round(v.SSE_HEARTBEAT_SECONDS * 1000),
      clientStallMs: Math.round(v.SSE_CLIENT_STALL_SECONDS * 1000),
      maxAnswerBytes: v.MAX_ANSWER_BYTES,
    };
  }

  /** Effective configuration with every secret masked. */
  toPublicJson(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of Object.keys(ENV_SCHEMA) as EnvName[]) {
      const value = this.values[name];
      const secret = 'secret' in ENV_SCHEMA[name] && ENV_SCHEMA[name].secret;
      out[name] = secret ? maskSecret(value) : typeof value === 'string' ? maskUrlUserInfo(value) : value;
    }
    return out;
  }
}

function maskSecret(value: unknown): string {
  if (value === undefined || value === '') return '(not set)';
  return '********';
}

/** Validates the whole environment at once and reports every bad variable in one message. */
export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const problems: string[] = [];
  const parsed: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(ENV_SCHEMA)) {
    const raw = env[name] ?? spec.default;
    try {
      parsed[name] = spec.parse(raw);
    } catch (e) {
      if (!(e instanceof EnvError)) throw e;
      problems.push(`${name}: ${e.message}`);
    }
  }
  const v = parsed as ParsedEnv;
  if (v.ENVIRONMENT === 'production' && typeof v.SECRET_KEY === 'string') {
    if (v.SECRET_KEY.length < 32) problems.push('SECRET_KEY: must be at least 32 characters in production');
    if (v.SECRET_KEY === EXAMPLE_SECRET_KEY) problems.push('SECRET_KEY: must not be the example value in production');
  }
  if (v.ENVIRONMENT === 'production' && v.VLLM_SERVER_URL === '') {
    problems.push('VLLM_SERVER_URL: required in production (the built-in emulator is for development only)');
  }
  // Workers share state only through PostgreSQL and Redis: an embedded database or in-memory limits would split.
  if (v.WORKERS > 1 && (!v.DATABASE_URL || (!v.REDIS_URL && !v.REDIS_HOST))) {
    problems.push('WORKERS: more than 1 needs DATABASE_URL and REDIS_URL (workers share state through them)');
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);
  return new AppConfig(v);
}

/**
 * The process's configuration as the server and the admin CLI read it: a local .env fills in what the
 * real environment does not set. Invalid settings are printed to stderr and give undefined.
 */
export function loadProcessConfig(): AppConfig | undefined {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return loadConfig(process.env);
  } catch (e) {
    if (!(e instanceof ConfigValidationError)) throw e;
    process.stderr.write(e.message + '\n');
    return undefined;
  }
}

/** What logListening needs of JsonLogger (config sits below common/ and does not import it). */
export interface StartupLogger {
  always(message: string, fields?: Record<string, unknown>): void;
}

/** The single start-up line: version, address, and what the server runs on. */
export function logListening(logger: StartupLogger, config: AppConfig, url: string): void {
  const database = config.database.url ? 'postgres' : 'embedded';
  const cache = config.redis.url ? 'redis' : 'memory';
  const servers = config.modelServer.urls ? config.modelServer.urls.split(',').length : 'emulator';
  const workers = config.http.workers > 1 ? ` workers=${config.http.workers}` : '';
  logger.always(
    `HAPA backend ${config.env.version} listening on ${url} database=${database} cache=${cache} model_servers=${servers}${workers}`,
    { environment: config.env.environment },
  );
}
