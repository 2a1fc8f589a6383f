import { ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  normalizeIp,
  ThrottlerGuard,
  type ThrottlerModuleOptions,
} from '@nestjs/throttler';
import { THROTTLER_SKIP } from '@nestjs/throttler/dist/throttler.constants';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter } from 'prom-client';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppRequest, AppResponse, AuthPrincipal, routeTemplate } from '../common/http/app-request';
import { AppConfig } from '../config/app-config';
import { budgetOf, limitedRoute, RateLimitBudget, RateLimitRule } from '../config/rate-limit-rules';
import { RateLimitStore, toRecord } from './rate-limit.store';

export const RATE_LIMITED_TOTAL = 'hapa_rate_limited_total';
/** Admins' share of the everything-else budget, as a multiple of API_RATE_LIMIT. */
export const ADMIN_API_FACTOR = 10;

interface Bucket {
  name: string;
  limit: number;
  windowMs: number;
}

/**
 * @nestjs/throttler guard with HAPA's policy: counted per API key (per user for login tokens,
 * per client IP on anonymous routes); each route spends one of three budgets (generation, autocomplete,
 * everything else: see budgetOf) plus a per-route rule from RATE_LIMIT_RULES. Runs after the auth guard.
 */
@Injectable()
export class RateLimitGuard extends ThrottlerGuard {
  private readonly rules: Map<string, RateLimitRule>;

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() private readonly store: RateLimitStore,
    reflector: Reflector,
    private readonly config: AppConfig,
    @InjectMetric(RATE_LIMITED_TOTAL) private readonly limited: Counter<'route'>,
  ) {
    super(options, store, reflector);
    this.rules = new Map(config.rateLimit.rules.map((r) => [r.route, r]));
  }

  override async canActivate(ctx: ExecutionContext): Promise<boolean> {
    if (!this.config.rateLimit.enabled || ctx.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(THROTTLER_SKIP + 'default', [ctx.getHandler(), ctx.getClass()])) {
      return true;
    }
    const req = ctx.switchToHttp().getRequest<AppRequest>();
    const res = ctx.switchToHttp().getResponse<AppResponse>();
    const template = routeTemplate(req);
    // Only the versioned API (and the OpenAI-compatible /v1) is limited; health probes and /metrics never are.
    const route = limitedRoute(template, this.config.http.apiPrefix);
    if (route === undefined) return true;

    const principal = req.principal;
    const tracker = principal
      ? principal.apiKeyId
        ? `key:${principal.apiKeyId}`
        : `user:${principal.userId}`
      : `ip:${normalizeIp(req.ip ?? 'unknown', 56)}`;
    const budget = budgetOf(route);
    const buckets: Bucket[] = [
      { name: budget, limit: this.budgetLimit(budget, principal), windowMs: this.config.rateLimit.windowMs },
    ];
    const rule = this.rules.get(route);
    if (rule) buckets.push({ name: `route:${rule.route}`, limit: rule.limit, windowMs: rule.windowMs });

    const hits = await this.store.hitAll(buckets.map((b) => ({ key: `${b.name}:${tracker}`, windowMs: b.windowMs })));
    const results = buckets.map((bucket, i) => ({ bucket, record: toRecord(hits[i], bucket.limit) }));
    // Report the bucket that binds: a blocked one first, else the one with the fewest requests left.
    const binding = results.reduce((a, b) => {
      if (a.record.isBlocked !== b.record.isBlocked) return a.record.isBlocked ? a : b;
      return b.bucket.limit - b.record.totalHits < a.bucket.limit - a.record.totalHits ? b : a;
    });
    res.setHeader('X-RateLimit-Limit', binding.bucket.limit);
    res.setHeader('X-RateLimit-Remaining', Math.max(0, binding.bucket.limit - binding.record.totalHits));
    res.setHeader('X-RateLimit-Reset', binding.record.timeToExpire);
    if (binding.record.isBlocked) {
      this.limited.inc({ route: template });
      throw new AppException(ErrorCode.E4004, {
        message: `Rate limit exceeded: ${binding.bucket.limit} requests per ${Math.round(binding.bucket.windowMs / 1000)} s`,
        headers: { 'Retry-After': String(binding.record.timeToBlockExpire) },
      });
    }
    return true;
  }

  private budgetLimit(budget: RateLimitBudget, principal: AuthPrincipal | undefined): number {
    const limits = this.config.rateLimit;
    switch (budget) {
      case 'generation':
        return principal?.limits?.rateLimit ?? limits.defaultLimit;
      case 'completion':
        return limits.completionLimit;
      case 'api':
        // An operator working an incident reads the ops routes far more than a user; a leaked admin key
        // is still bounded.
        return principal?.permissions.includes('admin') ? limits.apiLimit * ADMIN_API_FACTOR : limits.apiLimit;
    }
  }
}
