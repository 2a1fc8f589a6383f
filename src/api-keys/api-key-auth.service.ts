import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { RedisClientType } from 'redis';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AuthPrincipal } from '../common/http/app-request';
import { AppLogger } from '../common/logging/json-logger';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { AccessTokenService } from './access-token.service';
import { hashApiKey, looksLikeApiKey, sameHash } from './api-key-secret';
import { AuthFailureLimiter } from './auth-failure-limiter';
import { ApiKeyRepository, AuthKeyRecord } from './api-key.repository';
import { LruCache } from './lru-cache';
import { BOOTSTRAP_ADMIN_USER_ID, JWT_PERMISSIONS } from './principal';
import { SerialFlusher } from '../common/batching/serial-flusher';

const MAX_CACHED_KEYS = 10_000;
const MAX_NEGATIVE = 10_000;
const LAST_USED_FLUSH_MS = 5000;

export interface PresentedCredentials {
  apiKey?: string;
  bearer?: string;
  /** Normalised client address, for the failed-authentication limit. */
  clientIp?: string;
}

/**
 * Turns presented credentials into a principal without a database round-trip on the hot path:
 * key records are cached by hash (bounded LRU, AUTH_CACHE_TTL_SECONDS), unknown hashes briefly too,
 * revocations are broadcast over Redis pub/sub, and last_used_at is written in batches. Database
 * lookups and failed attempts go through AuthFailureLimiter, which keeps random-key floods off the
 * database without refusing valid keys. While the database is unreachable, a key verified within
 * AUTH_STALE_SECONDS is served from its last known record.
 */
@Injectable()
export class ApiKeyAuthService implements OnModuleInit, OnModuleDestroy {
  private readonly known: LruCache<string, AuthKeyRecord>;
  private readonly unknown: LruCache<string, true>;
  /** Last record read per hash, for as long as it may stand in for an unreachable database. */
  private readonly lastKnown?: LruCache<string, AuthKeyRecord>;
  private servingStale = false;
  private readonly inflight = new Map<string, Promise<AuthKeyRecord | undefined>>();
  private readonly usedKeyIds = new Set<string>();
  private readonly adminHash?: string;
  private readonly channel: string;
  private subscriber?: RedisClientType;
  private readonly lastUsed = new SerialFlusher(
    () => this.flushLastUsed(),
    (e) => this.logger.write('warn', 'last_used_at flush failed', { error: String(e) }),
  );

  constructor(
    config: AppConfig,
    private readonly keys: ApiKeyRepository,
    private readonly tokens: AccessTokenService,
    private readonly redis: RedisService,
    private readonly logger: AppLogger,
    private readonly failures: AuthFailureLimiter,
  ) {
    const ttl = config.security.authCacheTtlMs;
    this.known = new LruCache(MAX_CACHED_KEYS, ttl);
    this.unknown = new LruCache(MAX_NEGATIVE, Math.min(ttl, 2000));
    if (config.security.authStaleMs > 0) this.lastKnown = new LruCache(MAX_CACHED_KEYS, config.security.authStaleMs);
    this.adminHash = config.security.adminApiKey ? hashApiKey(config.security.adminApiKey) : undefined;
    this.channel = redis.key('auth', 'invalidate');
  }

  async onModuleInit(): Promise<void> {
    this.lastUsed.start(LAST_USED_FLUSH_MS);
    if (!this.redis.client) return;
    // SUBSCRIBE needs a connection of its own.
    const sub = this.redis.client.duplicate() as RedisClientType;
    this.subscriber = sub;
    sub.on('error', () => undefined);
    let readyBefore = false;
    sub.on('ready', () => {
      // After a reconnect, invalidations may have been missed while we were away.
      if (readyBefore) {
        this.known.clear();
        this.lastKnown?.clear();
      }
      readyBefore = true;
    });
    const subscribed = sub
      .connect()
      .then(() => sub.subscribe(this.channel, (hash) => this.dropLocal(hash)))
      .catch((e: unknown) => this.logger.write('warn', 'auth invalidation channel unavailable', { error: String(e) }));
    await Promise.race([subscribed, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  async onModuleDestroy(): Promise<void> {
    this.lastUsed.stop();
    await this.lastUsed.flush();
    const sub = this.subscriber;
    if (sub) await (sub.isOpen ? sub.close() : Promise.resolve(sub.destroy())).catch(() => sub.destroy());
  }

  hasCredentials(c: PresentedCredentials): boolean {
    return Boolean(c.apiKey || c.bearer);
  }

  /** The API key wins when both an X-API-Key and a Bearer token are sent. */
  async authenticate(c: PresentedCredentials): Promise<AuthPrincipal> {
    try {
      if (c.apiKey) return await this.fromApiKey(c.apiKey, c.clientIp);
      const bearer = c.bearer ?? '';
      if (this.isAdminKey(bearer) || looksLikeApiKey(bearer)) return await this.fromApiKey(bearer, c.clientIp);
      return this.fromToken(bearer);
    } catch (e) {
      if (c.clientIp && e instanceof AppException && e.code === ErrorCode.E4003) {
        throw await this.failures.failed(c.clientIp, e);
      }
      throw e;
    }
  }

  /** Drops a key from every instance's cache (locally now, elsewhere through pub/sub). */
  async invalidate(hash: string): Promise<void> {
    this.dropLocal(hash);
    if (!this.redis.client) return;
    await this.redis
      .call((client) => client.publish(this.channel, hash))
      .catch((e: unknown) =>
        this.logger.write('warn', 'auth invalidation not published; cache TTL bounds it', { error: String(e) }),
      );
  }

  private dropLocal(hash: string): void {
    this.known.delete(hash);
    this.unknown.delete(hash);
    this.lastKnown?.delete(hash);
  }

  private isAdminKey(value: string, hash = hashApiKey(value)): boolean {
    return this.adminHash !== undefined && sameHash(hash, this.adminHash);
  }

  private async fromApiKey(value: string, clientIp?: string): Promise<AuthPrincipal> {
    const hash = hashApiKey(value); // one hash per request: the admin check and the lookup share it
    if (this.isAdminKey(value, hash)) {
      return { userId: BOOTSTRAP_ADMIN_USER_ID, permissions: ['admin'], via: 'admin_bootstrap' };
    }
    if (!looksLikeApiKey(value)) throw new AppException(ErrorCode.E4003);
    const record = await this.lookup(hash, clientIp);
    if (!record || !sameHash(record.keyHash.trim(), hash) || record.revokedAt) throw new AppException(ErrorCode.E4003);
    if (new Date(record.expiresAt).getTime() <= Date.now()) {
      throw new AppException(ErrorCode.E4010, { message: 'API key expired' });
    }
    this.usedKeyIds.add(record.id);
    return {
      userId: record.userId,
      apiKeyId: record.id,
      permissions: record.permissions,
      via: 'api_key',
      limits: { rateLimit: record.rateLimit, maxConcurrentStreams: record.maxConcurrentStreams },
    };
  }

  private fromToken(token: string): AuthPrincipal {
    const r = this.tokens.verify(token);
    if (!r.ok) {
      throw r.reason === 'expired'
        ? new AppException(ErrorCode.E4010, { message: 'Access token expired' })
        : new AppException(ErrorCode.E4003);
    }
    // Scoped tokens never exceed JWT_PERMISSIONS, whatever they claim.
    const scope = r.claims.perm;
    const permissions = scope ? JWT_PERMISSIONS.filter((p) => scope.includes(p)) : JWT_PERMISSIONS;
    return { userId: r.claims.sub, permissions, via: 'jwt' };
  }

  private async lookup(hash: string, clientIp?: string): Promise<AuthKeyRecord | undefined> {
    const hit = this.known.get(hash);
    if (hit) return hit;
    if (this.unknown.get(hash)) return undefined;
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = this.failures
        .lookup(hash, clientIp)
        .then((record) => {
          if (record) this.known.set(hash, record);
          else this.unknown.set(hash, true);
          if (record) this.lastKnown?.set(hash, record);
          else this.lastKnown?.delete(hash);
          this.servingStale = false;
          return record;
        })
        .catch((e: unknown) => this.staleOrFail(hash, e))
        .finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    return pending;
  }

  // The database did not answer: a key verified recently keeps working; any other cannot be verified.
  private staleOrFail(hash: string, e: unknown): AuthKeyRecord {
    const record = this.lastKnown?.get(hash);
    if (!record) throw new AppException(ErrorCode.E5003, { cause: e });
    if (!this.servingStale) {
      this.servingStale = true;
      this.logger.write('warn', 'auth: database unreachable, API keys verified recently stay valid', {
        error: e instanceof Error ? e.message : String(e),
      });
    }
    return record;
  }

  private async flushLastUsed(): Promise<void> {
    if (this.usedKeyIds.size === 0) return;
    const ids = [...this.usedKeyIds];
    this.usedKeyIds.clear();
    await this.keys
      .touchLastUsed(ids)
      .catch((e: unknown) =>
        this.logger.write('warn', 'last_used_at flush failed', { error: String(e), keys: ids.length }),
      );
  }
}
