import type { Request, Response } from 'express';

/** Who is calling; set by the auth guard. */
export interface AuthPrincipal {
  userId: string;
  apiKeyId?: string;
  permissions: readonly string[];
  via: 'api_key' | 'jwt' | 'admin_bootstrap';
  /** An API key's own limits, for the rate limiter and stream slots (null: the configured default). */
  limits?: { rateLimit: number | null; maxConcurrentStreams: number | null };
}

export interface AppRequest extends Request {
  id: string;
  startedAt: bigint;
  principal?: AuthPrincipal;
}

export type AppResponse = Response;

/** Route template for labels and records: bounded cardinality whatever URL was sent. */
export function routeTemplate(req: Request): string {
  const path = (req.route as { path?: string } | undefined)?.path;
  return typeof path === 'string' ? path : 'unmatched';
}
