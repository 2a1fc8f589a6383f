import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createClient, RedisClientType } from 'redis';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../common/logging/json-logger';

export type RedisState = 'not_configured' | 'connected' | 'disconnected';

/**
 * The process's Redis connection (REDIS_URL), shared by cache, rate limits and pub/sub.
 * Commands fail fast while Redis is down (no offline queue) so callers can fall back
 * instead of hanging; the client reconnects in the background.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client?: RedisClientType;
  readonly keyPrefix: string;
  private lastState: RedisState;
  private readonly stateListeners: ((state: RedisState) => void)[] = [];

  constructor(
    config: AppConfig,
    private readonly logger: AppLogger,
  ) {
    this.keyPrefix = config.redis.keyPrefix;
    this.lastState = config.redis.url ? 'disconnected' : 'not_configured';
    if (!config.redis.url) return;
    this.client = createClient({
      url: config.redis.url,
      disableOfflineQueue: true,
      pingInterval: 5000,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
    });
    this.client.on('error', () => undefined); // state changes are logged below; errors reach callers
    this.client.on('ready', () => this.setState('connected'));
    this.client.on('end', () => this.setState('disconnected'));
    this.client.on('reconnecting', () => this.setState('disconnected'));
  }

  /** Connects, waiting at most `waitMs`: a Redis that is down at start-up must not stop the server. */
  async connect(waitMs = 2000): Promise<void> {
    if (!this.client) return;
    const connecting = this.client.connect().catch(() => undefined);
    await Promise.race([connecting, new Promise((r) => setTimeout(r, waitMs).unref())]);
  }

  get state(): RedisState {
    return this.lastState;
  }

  get isReady(): boolean {
    return this.client?.isReady ?? false;
  }

  key(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  /** Called on every transition between connected and disconnected. */
  onStateChange(listener: (state: RedisState) => void): void {
    this.stateListeners.push(listener);
  }

  async ping(timeoutMs = 1000): Promise<number> {
    if (!this.client) throw new Error('Redis not configured');
    if (!this.client.isReady) throw new Error('Redis not connected');
    const start = performance.now();
    await withTimeout(this.client.ping(), timeoutMs, 'Redis ping timed out');
    return performance.now() - start;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client?.isOpen) await this.client.close().catch(() => this.client?.destroy());
    else this.client?.destroy();
  }

  private setState(state: RedisState): void {
    if (state === this.lastState) return;
    this.lastState = state;
    this.logger.write(state === 'connected' ? 'info' : 'warn', `redis ${state}`);
    for (const l of this.stateListeners) l(state);
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
