/** One per-route limit: `limit` requests per `windowMs`, for a route relative to API_V1_PREFIX, or an OpenAI-compatible `/v1/...` route. */
export interface RateLimitRule {
  route: string;
  limit: number;
  windowMs: number;
}

export const DEFAULT_RATE_LIMIT_RULES = '/code/generate=50/1m,/code/generate/stream=20/1m,/errors/dashboard=100/1m';

/** Aliases share the rule (and the counter) of their canonical route. */
export const ROUTE_ALIASES: Record<string, string> = {
  '/generate-code': '/code/generate',
  '/enhanced-stream-generate': '/code/generate/stream',
  '/code/enhanced-stream-generate': '/code/generate/stream',
};

const UNITS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
};

export const canonicalRoute = (route: string): string => ROUTE_ALIASES[route] ?? route;

/**
 * `route=limit/window` entries, comma-separated; window is `<n><unit>` or a bare unit
 * (s, m, h, d, second, minute, hour, day): `/code/generate=50/1m,/errors/dashboard=100/minute`.
 * Throws an Error with a readable message on a bad entry.
 */
export function parseRateLimitRules(raw: string): RateLimitRule[] {
  const rules = new Map<string, RateLimitRule>();
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const m = /^(\/[A-Za-z0-9/_-]*?)\/?=(\d+)\/(\d*)\s*([a-z]+)$/.exec(entry);
    if (!m) throw new Error(`bad rule "${entry}": expected /route=limit/window, e.g. /code/generate=50/1m`);
    const unit = UNITS[m[4]];
    if (!unit) throw new Error(`bad rule "${entry}": unknown window unit "${m[4]}"`);
    const limit = Number(m[2]);
    const windowMs = (m[3] === '' ? 1 : Number(m[3])) * unit;
    if (limit < 1 || windowMs < 1000) throw new Error(`bad rule "${entry}": limit and window must be positive`);
    const route = canonicalRoute(m[1]);
    rules.set(route, { route, limit, windowMs });
  }
  return [...rules.values()];
}
