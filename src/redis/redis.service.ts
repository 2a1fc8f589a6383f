import { Injectable, OnApplicationShutdown } from '@nestjs/common';
import { createClient, ErrorReply, RedisClientType } from 'redis';
import { AppConfig } from '../config/app-config';
import { AppLogger } from '../common/logging/json-logger';

export type RedisState = 'not_configured' | 'connected' | 'disconnected';

/** Rejected without reaching Redis: not configured, not connected, or the circuit is open. */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
}

// Consecutive timeouts or connection errors that open the circuit.
const BREAKER_THRESHOLD = 3;
const PROBE_INTERVAL_MS = 500;
const PROBE_TIMEOUT_MS = 1000;

/**
 * The process's Redis connection (REDIS_URL), shared by cache, rate limits and pub/sub.
 * Every request-path operation goes through `call`: a deadline (REDIS_COMMAND_TIMEOUT_MS) and one
 * circuit breaker for the whole process. After a few timeouts or connection errors Redis counts as
 * down and calls fail at once, so callers use their fallback without waiting, until a background
 * PING answers again. Commands also fail fast while disconnected (no offline queue); the client
 * reconnects in the background.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly client?: RedisClientType;
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
  private lastState: RedisState;
  private readonly stateListeners: ((state: RedisState) => void)[] = [];
  private failures = 0;
  private open = false;
  private probe?: NodeJS.Timeout;
  private probing = false;

  constructor(
    config: AppConfig,
    private readonly logger: AppLogger,
  ) {
    this.keyPrefix = config.redis.keyPrefix;
    this.commandTimeoutMs = config.redis.commandTimeoutMs;
    this.lastState = config.redis.url ? 'disconnected' : 'not_configured';
    if (!config.redis.url) return;
    this.client = createClient({
      url: config.redis.url,
      disableOfflineQueue: true,
      pingInterval: 5000,
      socket: { connectTimeout: 2000, reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, 2000) },
    });
    this.client.on('error', () => undefined); // state changes are logged below; errors reach callers
    this.client.on('ready', () => this.updateState());
    this.client.on('end', () => this.updateState());
    this.client.on('reconnecting', () => this.updateState());
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

  /** Connected and the circuit closed: worth sending a command. */
  get isReady(): boolean {
    return (this.client?.isReady ?? false) && !this.open;
  }

  key(...parts: string[]): string {
    return this.keyPrefix + parts.join(':');
  }

  /** Called on every transition between connected and disconnected (the circuit opening counts as disconnected). */
  onStateChange(listener: (state: RedisState) => void): void {
    this.stateListeners.push(listener);
  }

  /**
   * Runs one Redis operation (one or a few commands) within the command deadline, counting its
   * outcome in the shared breaker. Rejects at once with RedisUnavailableError while Redis counts as down.
   * A reply error (wrong type, NOSCRIPT…) is Redis answering, so it does not count as a failure.
   */
  async call<T>(op: (client: RedisClientType) => Promise<T>): Promise<T> {
    const client = this.client;
    if (!client) throw new RedisUnavailableError('Redis not configured');
    if (this.open) throw new RedisUnavailableError('Redis unavailable (circuit open)');
    if (!client.isReady) throw new RedisUnavailableError('Redis not connected');
    try {
      const result = await withTimeout(op(client), this.commandTimeoutMs, 'Redis command timed out');
      this.failures = 0;
      return result;
    } catch (e) {
      if (!(e instanceof ErrorReply)) this.failed(e);
      throw e;
    }
  }

  /** Round-trip time of one PING, through the breaker (health checks). */
  async ping(): Promise<number> {
    const start = performance.now();
    await this.call((c) => c.ping());
    return performance.now() - start;
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopProbe();
    if (this.client?.isOpen) await this.client.close().catch(() => this.client?.destroy());
    else this.client?.destroy();
  }

  private failed(e: unknown): void {
    if (this.open || ++this.failures < BREAKER_THRESHOLD) return;
    this.open = true;
    this.logger.write('warn', 'redis circuit open: serving without Redis until it answers again', {
      error: e instanceof Error ? e.message : String(e),
    });
    this.updateState();
    this.probe = setInterval(() => void this.tryClose(), PROBE_INTERVAL_MS);
    this.probe.unref();
  }

  // One PING at a time: a frozen Redis answers the pending one when it wakes up.
  private async tryClose(): Promise<void> {
    const client = this.client;
    if (this.probing || !client?.isReady) return;
    this.probing = true;
    try {
      await withTimeout(client.ping(), Math.max(PROBE_TIMEOUT_MS, this.commandTimeoutMs), 'Redis probe timed out');
      if (!this.open) return;
      this.stopProbe();
      this.open = false;
      this.failures = 0;
      this.logger.write('info', 'redis circuit closed: Redis answers again');
      this.updateState();
    } catch {
      // still down; the next tick tries again
    } finally {
      this.probing = false;
    }
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe);
    this.probe = undefined;
  }

  private updateState(): void {
    const state: RedisState = this.isReady ? 'connected' : 'disconnected';
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
      // After the I/O phase: a reply already read from the socket while the loop was busy still wins.
      timer = setTimeout(() => setImmediate(() => reject(new Error(message))), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
