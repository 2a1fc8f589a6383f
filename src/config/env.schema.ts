import { isIP } from 'node:net';
import { DEFAULT_RATE_LIMIT_RULES, parseRateLimitRules } from './rate-limit-rules';

/**
 * Every environment variable the server reads, in one table: validation, defaults, `.env.example`,
 * secret masking in /api/v1/config/status and the README's configuration table all derive from it.
 */
export interface EnvVar<T = unknown> {
  name: string;
  default: string;
  description: string;
  secret?: boolean;
  parse: (raw: string) => T;
}

export class EnvError extends Error {}

const fail = (message: string): never => {
  throw new EnvError(message);
};

export const str =
  (opts: { nonEmpty?: boolean; maxLength?: number } = {}) =>
  (raw: string): string => {
    if (opts.nonEmpty && raw.trim() === '') fail('must not be empty');
    if (opts.maxLength && raw.length > opts.maxLength) fail(`must be at most ${opts.maxLength} characters`);
    return raw;
  };

export const int =
  (min: number, max: number = Number.MAX_SAFE_INTEGER) =>
  (raw: string): number => {
    if (!/^-?\d+$/.test(raw.trim())) fail(`must be an integer, got "${raw}"`);
    const n = Number(raw);
    if (n < min || n > max) fail(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };

export const num =
  (min: number, max: number) =>
  (raw: string): number => {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) fail(`must be a number, got "${raw}"`);
    if (n < min || n > max) fail(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };

export const bool = (raw: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  return fail(`must be true or false, got "${raw}"`);
};

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** Express `trust proxy`: false, a hop count, or a list of addresses/CIDRs. Never `true` (any client could spoof). */
export function trustProxy(raw: string): false | number | string[] {
  const v = raw.trim();
  if (v === '' || v === 'false' || v === '0') return false;
  if (/^\d+$/.test(v)) return int(1, 100)(v);
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    if (PROXY_NAMES.includes(item)) continue;
    const [address, prefix, ...rest] = item.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || rest.length > 0) {
      fail(`must be a hop count or a list of IPs/CIDRs (or ${PROXY_NAMES.join(', ')}), got "${item}"`);
    }
  }
  return items;
}

export const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string): T => {
    const v = raw.trim().toLowerCase() as T;
    if (!values.includes(v)) fail(`must be one of ${values.join(', ')}, got "${raw}"`);
    return v;
  };

export const url =
  (...protocols: string[]) =>
  (raw: string): string | undefined => {
    if (raw.trim() === '') return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw.trim());
    } catch {
      return fail('must be a URL');
    }
    if (!protocols.includes(parsed.protocol)) fail(`must use ${protocols.join(' or ')}`);
    return raw.trim();
  };

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2 };
/** "1mb", "512kb" or a byte count. */
export const byteSize = (raw: string): number => {
  const m = /^(\d+)\s*(b|kb|mb)?$/i.exec(raw.trim());
  if (!m) return fail(`must be a size like 1mb, 512kb or a byte count, got "${raw}"`);
  const bytes = Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()];
  if (bytes < 1024 || bytes > 64 * 1024 ** 2) fail('must be between 1kb and 64mb');
  return bytes;
};

export const TASKS = [
  'code_generation',
  'code_completion',
  'code_explanation',
  'code_review',
  'documentation',
  'bug_fix',
  'code_optimization',
  'unit_test_generation',
] as const;
export const ADAPTERS = ['autocomplete', 'prompt', 'comment', 'error_fix'] as const;

/** Comma-separated model-server URLs, each optionally `openai+` or `hapa+` prefixed; returned as given. */
const modelServerUrls = (raw: string): string => {
  for (const part of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(?:(openai|hapa)\+)?(https?:\/\/.+)$/i.exec(part);
    if (!m)
      fail(
        `"${part.replace(/\/\/[^@/]*@/, '//***@')}" must be http(s)://host:port, optionally prefixed openai+ or hapa+`,
      );
    try {
      new URL(m![2]);
    } catch {
      fail('contains an invalid URL');
    }
  }
  return raw.trim();
};

/** "task=adapter" or "adapter=deployed-name" pairs, comma-separated. */
export const adapterMap = (raw: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const pair of raw
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^([a-z_]+)\s*=\s*([A-Za-z0-9._:/-]+)$/.exec(pair);
    if (!m) fail(`expected name=adapter pairs, got "${pair}"`);
    const key = m![1];
    if (!(TASKS as readonly string[]).includes(key) && !(ADAPTERS as readonly string[]).includes(key)) {
      fail(`unknown task or adapter "${key}"`);
    }
    out[key] = m![2];
  }
  return out;
};

const fimTemplate = (raw: string): string => {
  if (!raw.includes('{prefix}')) fail('must contain {prefix}');
  return raw;
};

const fimTemplates = (raw: string): Record<string, string> => {
  if (raw.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail('must be a JSON object of adapter -> template');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('must be a JSON object');
  for (const [k, v] of Object.entries(parsed as object)) {
    if (typeof v !== 'string' || !v.includes('{prefix}'))
      fail(`template for ${k} must be a string containing {prefix}`);
  }
  return parsed as Record<string, string>;
};

/** The value shipped in .env.example; production refuses to start with it. */
export const EXAMPLE_SECRET_KEY = 'change-me-to-a-random-string-of-at-least-32-chars';

export const ENV_SCHEMA = {
  ENVIRONMENT: {
    default: 'development',
    description: 'development | production | test; production enforces real secrets and closed registration',
    parse: oneOf('development', 'production', 'test'),
  },
  DEBUG: {
    default: 'false',
    description: 'true = log at debug level whatever LOG_LEVEL says (response bodies never get more detail)',
    parse: bool,
  },
  HOST: {
    default: '127.0.0.1',
    description:
      'Interface to listen on; 127.0.0.1 keeps a development server (open registration) off the network, 0.0.0.0 listens on every interface (the Dockerfile, compose and the Helm chart set it)',
    parse: str({ nonEmpty: true }),
  },
  PORT: { default: '8000', description: 'HTTP port', parse: int(0, 65535) },
  WORKERS: {
    default: '1',
    description:
      'HTTP worker processes sharing the port (node:cluster), e.g. one per core; above 1 needs DATABASE_URL and REDIS_URL',
    parse: int(1, 256),
  },
  API_V1_PREFIX: {
    default: '/api/v1',
    description: 'Prefix of the versioned API routes',
    parse: (raw: string) => (/^\/[A-Za-z0-9/_-]*[^/]$/.test(raw) ? raw : fail('must start with / and not end with /')),
  },
  SECRET_KEY: {
    default: EXAMPLE_SECRET_KEY,
    description: 'HS256 key for login tokens; at least 32 characters and not this example in production',
    secret: true,
    parse: str({ nonEmpty: true }),
  },
  API_KEY_EXPIRY_DAYS: { default: '90', description: 'Lifetime of newly issued API keys (days)', parse: int(1, 3650) },
  ACCESS_TOKEN_EXPIRE_MINUTES: {
    default: '30',
    description: 'Lifetime of login tokens (JWT) from /users/login (minutes)',
    parse: int(1, 30 * 24 * 60),
  },
  REGISTRATION_MODE: {
    default: '',
    description:
      'open (anyone may get a key and a login token for an email) | closed (only admins issue keys); empty = closed in production, open otherwise',
    parse: (raw: string) => (raw.trim() === '' ? undefined : oneOf('open', 'closed')(raw)),
  },
  ADMIN_API_KEY: {
    default: '',
    description:
      'Bootstrap admin key (X-API-Key) for POST /api/v1/admin/api-keys; at least 24 characters; empty = none',
    secret: true,
    parse: (raw: string) => (raw === '' ? undefined : raw.length < 24 ? fail('must be at least 24 characters') : raw),
  },
  AUTH_STALE_SECONDS: {
    default: '900',
    description:
      'While the database is unreachable, an API key this instance verified within this many seconds stays valid (revocations still arrive through Redis); 0 = off',
    parse: int(0, 86_400),
  },
  AUTH_CACHE_TTL_SECONDS: {
    default: '5',
    description:
      'How long an API key lookup is cached in process; bounds how long a revoked key still works when Redis pub/sub is unavailable',
    parse: int(1, 300),
  },
  AUTH_FAILURE_LIMIT: {
    default: '60',
    description:
      'Failed authentications per client IP per minute; beyond it, lookups of unknown API keys from that address are batched (valid keys are still served) and failures answer 429 E4004; 0 = off',
    parse: int(0, 1_000_000),
  },
  TRUST_PROXY: {
    default: '',
    description:
      'Proxies in front of the server, so client addresses (rate limits, failed-auth budget, logs) are the real ones: a hop count (1 = one load balancer) or a comma-separated list of proxy IPs/CIDRs (loopback, uniquelocal and linklocal allowed); empty = none, the socket address is the client',
    parse: trustProxy,
  },
  DATABASE_URL: {
    default: '',
    description: 'postgres://user:pass@host:5432/db; empty = embedded PostgreSQL (PGlite) under DATA_DIR',
    secret: true,
    parse: url('postgres:', 'postgresql:'),
  },
  DATA_DIR: {
    default: './data',
    description:
      'Where the embedded database keeps its files, and where usage and error events wait (spill/) when the database is down at shutdown',
    parse: str({ nonEmpty: true }),
  },
  REDIS_URL: {
    default: '',
    description: 'redis://[:pass@]host:6379[/db]; empty = in-process cache and rate limits (single instance only)',
    secret: true,
    parse: url('redis:', 'rediss:'),
  },
  REDIS_HOST: {
    default: '',
    description: 'Alternative to REDIS_URL: Redis host (used when REDIS_URL is empty)',
    parse: str(),
  },
  REDIS_PORT: { default: '6379', description: 'Redis port, with REDIS_HOST', parse: int(1, 65535) },
  REDIS_KEY_PREFIX: {
    default: 'hapa:',
    description: 'Prefix for every Redis key, so deployments can share one Redis',
    parse: str({ nonEmpty: true, maxLength: 64 }),
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    default: '250',
    description:
      'Deadline of each Redis operation on the request path (ms); after a few misses Redis counts as down (in-process limits, no cache) until it answers a PING',
    parse: int(10, 10_000),
  },
  CACHE_TTL: { default: '1800', description: 'Response cache time-to-live (seconds)', parse: int(1, 30 * 86400) },
  MAX_CACHE_SIZE: { default: '1000', description: 'Entries kept by the in-process cache', parse: int(1, 1_000_000) },
  CACHE_ENABLED: {
    default: 'true',
    description: 'Cache code-generation responses (false = every request goes upstream)',
    parse: bool,
  },
  CACHE_MAX_TEMPERATURE: {
    default: '0.5',
    description: 'Requests sampled above this temperature are not cached (their answers are meant to vary)',
    parse: num(0, 2),
  },
  REQUEST_TIMEOUT: {
    default: '30',
    description:
      'Upper bound for the wait of a one-shot request on the model server (seconds; AI_MODEL_TIMEOUT applies too, the shorter wins)',
    parse: int(1, 3600),
  },
  MAX_BODY_SIZE: { default: '1mb', description: 'Largest accepted request body (413 E4008 above)', parse: byteSize },
  REQUEST_BODY_TIMEOUT_SECONDS: {
    default: '30',
    description:
      'Time a client has to send a request body once its headers arrived (400 E4001 and the connection closed after), and the bound on receiving a whole request; responses and streams are not limited by it',
    parse: int(1, 3600),
  },
  MAX_PENDING_BODIES_PER_IP: {
    default: '64',
    description:
      'Request bodies one client address may be sending at the same time; more answer 429 E4004 (stalled uploads cannot pile up)',
    parse: int(1, 1_000_000),
  },
  SHUTDOWN_TIMEOUT: {
    default: '30',
    description: 'On SIGTERM, how long in-flight requests and streams may finish (seconds)',
    parse: int(0, 3600),
  },
  RATE_LIMIT_ENABLED: { default: 'true', description: 'Turn rate limiting on or off', parse: bool },
  DEFAULT_RATE_LIMIT: {
    default: '100',
    description:
      "Code-generation requests per key per window (/code/generate, its stream, /v1/chat/completions); a key's own rate_limit replaces it",
    parse: int(1, 10_000_000),
  },
  AUTOCOMPLETE_RATE_LIMIT: {
    default: '6000',
    description: 'Autocomplete requests per key per window (/code/complete, /v1/completions, /v1/fim/completions)',
    parse: int(1, 10_000_000),
  },
  API_RATE_LIMIT: {
    default: '3000',
    description:
      'Requests per key (per client IP when anonymous) per window to every other API route: reads, profile, settings, telemetry, ops',
    parse: int(1, 10_000_000),
  },
  RATE_LIMIT_WINDOW_MINUTES: { default: '60', description: 'Rate-limit window (minutes)', parse: int(1, 7 * 24 * 60) },
  RATE_LIMIT_RULES: {
    default: DEFAULT_RATE_LIMIT_RULES,
    description:
      'Per-route limits on top of the budgets, comma-separated route=limit/window (window 30s, 1m, 2h, minute...) or the JSON object {"/api/v1/generate-code": "50/minute"}; routes with or without API_V1_PREFIX, or /v1/... for the OpenAI-compatible routes; aliases share their route\'s rule',
    parse: (raw: string) => {
      try {
        return parseRateLimitRules(raw);
      } catch (e) {
        return fail((e as Error).message);
      }
    },
  },
  MAX_CONCURRENT_STREAMS: {
    default: '4',
    description: 'Concurrent streams per API key (429 E4013 above); a key may override it',
    parse: int(1, 10_000),
  },
  ERROR_MONITORING_ENABLED: { default: 'true', description: 'Record error responses in the database', parse: bool },
  ERROR_RETENTION_DAYS: { default: '30', description: 'Days error records are kept', parse: int(1, 3650) },
  INCIDENT_TRACKING_ENABLED: { default: 'true', description: 'Group server errors into incidents', parse: bool },
  ERROR_SAMPLE_PER_MINUTE: {
    default: '20',
    description:
      'Detail rows stored per error fingerprint per minute (counts stay exact; see docs/error-monitoring.md)',
    parse: int(0, 100_000),
  },
  ANALYTICS_RETENTION_DAYS: {
    default: '90',
    description: 'Days usage and completion events are kept',
    parse: int(1, 3650),
  },
  LOG_LEVEL: {
    default: 'info',
    description: 'debug | info | warn | error (case-insensitive)',
    parse: oneOf('debug', 'info', 'warn', 'error'),
  },
  STRUCTURED_LOGGING: { default: 'true', description: 'JSON log lines (false = plain text)', parse: bool },
  PROMETHEUS_ENABLED: { default: 'true', description: 'Serve GET /metrics', parse: bool },
  VLLM_SERVER_URL: {
    default: '',
    description:
      'Model server(s), comma-separated; prefix hapa+ for the HAPA protocol (hapa+http://h:8002); empty = built-in emulator (not in production)',
    parse: modelServerUrls,
  },
  AI_MODEL_TIMEOUT: {
    default: '30',
    description: 'Seconds to wait for the first token (504 E5001 after)',
    parse: int(1, 3600),
  },
  AI_MODEL_API_KEY: {
    default: '',
    description: 'Bearer token sent to the model server(s)',
    secret: true,
    parse: str(),
  },
  AI_MODEL_CONNECT_TIMEOUT: {
    default: '5',
    description: 'Seconds to open a connection to a model server (the server is taken out after)',
    parse: num(0.05, 600),
  },
  AI_MODEL_IDLE_TIMEOUT: {
    default: '30',
    description: 'Seconds of silence allowed between upstream chunks once a stream has started (E5001 after)',
    parse: num(0.05, 3600),
  },
  AI_MODEL_MAX_CONNECTIONS: {
    default: '4096',
    description:
      'Connections per model server; a stream holds one for its whole life, and requests beyond the cap wait in the gateway',
    parse: int(1, 65535),
  },
  HEALTH_PROBE_INTERVAL: {
    default: '10',
    description: 'Seconds between background /health probes of each model server',
    parse: num(0.05, 3600),
  },
  MODEL_ADAPTERS: {
    default: '',
    description:
      'Overrides of the task -> adapter mapping and adapter names, e.g. code_generation=prompt,bug_fix=error_fix or autocomplete=my-fim-lora',
    parse: adapterMap,
  },
  FIM_TEMPLATE: {
    default: '<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>',
    description: 'Fill-in-the-middle prompt for /code/complete; {prefix} and {suffix} are replaced',
    parse: fimTemplate,
  },
  FIM_TEMPLATES: {
    default: '',
    description: 'Per-adapter FIM templates as JSON {"adapter":"...{prefix}...{suffix}..."}; FIM_TEMPLATE otherwise',
    parse: fimTemplates,
  },
  SAFETY_LEVEL: {
    default: 'standard',
    description:
      'off | standard | strict (strict refuses dangerous prompts with 400 E4011); generated code is always scanned',
    parse: oneOf('off', 'standard', 'strict'),
  },
  SSE_HEARTBEAT_SECONDS: {
    default: '15',
    description: 'Seconds of upstream silence before a stream sends a heartbeat event (`: keep-alive` on /v1)',
    parse: num(0.05, 3600),
  },
  SSE_CLIENT_STALL_SECONDS: {
    default: '60',
    description:
      'Seconds a streaming client may read nothing while its buffer is full before its stream is closed and the model request aborted',
    parse: num(0.05, 3600),
  },
  MAX_ANSWER_BYTES: {
    default: '4194304',
    description:
      'Largest answer relayed from a model server, in bytes (E5006 past it, on streams and one-shot answers)',
    parse: int(1024, 1073741824),
  },
} satisfies Record<string, Omit<EnvVar, 'name'>>;

export type EnvName = keyof typeof ENV_SCHEMA;
export type ParsedEnv = { [K in EnvName]: ReturnType<(typeof ENV_SCHEMA)[K]['parse']> };
