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

/**
 * Which per-key budget a request spends. `generation` is DEFAULT_RATE_LIMIT (the seeds' 100/hour, or
 * the key's own rate_limit); `completion` is the much larger autocomplete budget; `api` is every other
 * route (reads, profile and settings, telemetry, ops), so none of those spends the generation budget.
 */
export type RateLimitBudget = 'generation' | 'completion' | 'api';

/** Routes relative to API_V1_PREFIX, or absolute for the OpenAI-compatible `/v1` surface. */
const BUDGET_OF_ROUTE: Record<string, RateLimitBudget> = {
  '/code/generate': 'generation',
  '/code/generate/stream': 'generation',
  '/v1/chat/completions': 'generation',
  '/code/complete': 'completion',
  '/v1/completions': 'completion',
  '/v1/fim/completions': 'completion',
};

export const budgetOf = (route: string): RateLimitBudget => BUDGET_OF_ROUTE[canonicalRoute(route)] ?? 'api';

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
 * The route a limited request is counted under: relative to `apiPrefix` for the HAPA API, absolute for
 * the OpenAI-compatible `/v1` routes; undefined for everything else (health probes, /metrics, /docs).
 */
export function limitedRoute(template: string, apiPrefix: string): string | undefined {
  if (template.startsWith(apiPrefix + '/')) {
    const route = canonicalRoute(template.slice(apiPrefix.length));
    return route === '/health' || route.startsWith('/health/') ? undefined : route;
  }
  return template.startsWith('/v1/') ? template : undefined;
}

/**
 * Two forms. `route=limit/window` entries, comma-separated, where window is `<n><unit>` or a bare unit
 * (s, m, h, d, second, minute, hour, day): `/code/generate=50/1m,/errors/dashboard=100/minute`. Or the
 * seeds' JSON object: `{"/api/v1/generate-code": "50/minute"}`. Routes are kept as written here (see
 * resolveRateLimitRules). Throws an Error with a readable message on a bad entry.
 */
export function parseRateLimitRules(raw: string): RateLimitRule[] {
  const entries = raw.trim().startsWith('{') ? jsonEntries(raw) : raw.split(',').map((e) => e.trim());
  const rules = new Map<string, RateLimitRule>();
  for (const entry of entries) {
    if (entry === '') continue;
    const m = /^(\/[A-Za-z0-9/_-]*?)\/?=(\d+)\/(\d*)\s*([a-z]+)$/.exec(entry);
    if (!m) throw new Error(`bad rule "${entry}": expected /route=limit/window, e.g. /code/generate=50/1m`);
    const unit = UNITS[m[4]];
    if (!unit) throw new Error(`bad rule "${entry}": unknown window unit "${m[4]}"`);
    const limit = Number(m[2]);
    const windowMs = (m[3] === '' ? 1 : Number(m[3])) * unit;
    if (limit < 1 || windowMs < 1000) throw new Error(`bad rule "${entry}": limit and window must be positive`);
    rules.set(m[1], { route: m[1], limit, windowMs });
  }
  return [...rules.values()];
}

function jsonEntries(raw: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error('bad rules: not valid JSON (expected {"/route": "limit/window", ...})');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('bad rules: expected a JSON object {"/route": "limit/window", ...}');
  }
  return Object.entries(parsed).map(([route, value]) => {
    if (typeof value !== 'string') throw new Error(`bad rule "${route}": the value must be a string like "50/minute"`);
    return `${route.trim()}=${value.trim()}`;
  });
}

/**
 * Routes as the limiter sees them: the API prefix stripped when a rule carries it (the seeds write
 * `/api/v1/generate-code`), aliases folded onto their canonical route; a later rule for the same route wins.
 */
export function resolveRateLimitRules(rules: RateLimitRule[], apiPrefix: string): RateLimitRule[] {
  const out = new Map<string, RateLimitRule>();
  for (const r of rules) {
    const relative = r.route.startsWith(apiPrefix + '/') ? r.route.slice(apiPrefix.length) : r.route;
    const route = canonicalRoute(relative);
    out.set(route, { ...r, route });
  }
  return [...out.values()];
}
