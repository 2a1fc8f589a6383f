import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AuthPrincipal } from '../common/http/app-request';
import { StreamSlotsPort } from '../common/ports/stream-slots.port';
import { AppConfig } from '../config/app-config';
import { RedisService } from '../redis/redis.service';
import { StoreOutageMonitor } from './store-outage.monitor';

/** A held slot expires unless refreshed, so a crashed instance cannot leak slots for long. */
export const SLOT_TTL_MS = 60_000;
const HEARTBEAT_MS = SLOT_TTL_MS / 3;

// Slots are members of a sorted set scored by expiry; expired ones are dropped before counting.
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`;
const REFRESH_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- XX CH: 1 only while our slot is still a member (0 is truthy in Lua, so compare)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1`;

/** Per-key cap on concurrent streams (MAX_CONCURRENT_STREAMS or the key's own), shared through Redis. */
@Injectable()
export class StreamSlotsService extends StreamSlotsPort implements OnModuleDestroy {
  private readonly memory = new Map<string, Set<string>>();
  private readonly heartbeats = new Set<NodeJS.Timeout>();

  constructor(
    private readonly config: AppConfig,
    private readonly redis: RedisService,
    private readonly outage: StoreOutageMonitor,
  ) {
    super();
  }

  onModuleDestroy(): void {
    for (const t of this.heartbeats) clearInterval(t);
  }

  async acquire(principal: AuthPrincipal): Promise<() => void> {
    const owner = principal.apiKeyId ? `key:${principal.apiKeyId}` : `user:${principal.userId}`;
    const limit = principal.limits?.maxConcurrentStreams ?? this.config.rateLimit.maxConcurrentStreams;
    const slot = randomUUID();
    const viaRedis = await this.tryRedis(owner, slot, limit);
    if (viaRedis === false) throw full(limit);
    if (viaRedis === true) return this.redisRelease(owner, slot);
    const held = this.memory.get(owner) ?? new Set<string>();
    if (held.size >= limit) throw full(limit);
    held.add(slot);
    this.memory.set(owner, held);
    return once(() => {
      held.delete(slot);
      if (held.size === 0 && this.memory.get(owner) === held) this.memory.delete(owner);
    });
  }

  /** true/false: Redis answered; undefined: use memory. */
  private async tryRedis(owner: string, slot: string, limit: number): Promise<boolean | undefined> {
    if (!this.redis.client) return undefined;
    const key = this.redis.key('streams', owner);
    let sent: Promise<unknown> | undefined;
    try {
      const r = await this.redis.call(
        (client) =>
          (sent = client.eval(ACQUIRE_SCRIPT, { keys: [key], arguments: [String(limit), String(SLOT_TTL_MS), slot] })),
      );
      this.outage.recovered();
      return Number(r) === 1;
    } catch (e) {
      this.outage.failed(e);
      // A frozen Redis runs the timed-out acquire when it wakes up: that slot is nobody's and would
      // refuse the key's streams until it expires.
      sent?.then(
        (added) => Number(added) === 1 && this.giveBack(key, slot),
        () => undefined,
      );
      return undefined;
    }
  }

  private redisRelease(owner: string, slot: string): () => void {
    const key = this.redis.key('streams', owner);
    const heartbeat = setInterval(() => {
      this.redis
        .call((client) => client.eval(REFRESH_SCRIPT, { keys: [key], arguments: [String(SLOT_TTL_MS), slot] }))
        .catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    this.heartbeats.add(heartbeat);
    return once(() => {
      clearInterval(heartbeat);
      this.heartbeats.delete(heartbeat);
      this.giveBack(key, slot);
    });
  }

  /**
   * Past the breaker: while it is open a release through `call` is never sent, and the slot would
   * refuse the key's streams for up to SLOT_TTL_MS after Redis is back. A frozen Redis runs the
   * queued ZREM when it wakes; a lost connection rejects it at once and the slot's expiry frees it.
   */
  private giveBack(key: string, slot: string): void {
    if (!this.redis.client?.isReady) return;
    this.redis.client.zRem(key, slot).catch(() => undefined);
  }
}

function full(limit: number): AppException {
  return new AppException(ErrorCode.E4013, {
    message: `Too many concurrent streams for this key (limit ${limit})`,
    headers: { 'Retry-After': '5' },
  });
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
