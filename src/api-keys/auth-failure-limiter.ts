import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';
import { RateLimitStore } from '../rate-limit/rate-limit.store';

const WINDOW_MS = 60_000;

/**
 * Failed authentications per client IP (AUTH_FAILURE_LIMIT per minute, in the shared rate-limit store).
 * Over the limit, keys this instance has not seen valid are refused before they reach the database:
 * random well-formed keys would each cost a lookup, and the negative cache cannot help with them.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly limit: number;

  constructor(
    config: AppConfig,
    private readonly store: RateLimitStore,
  ) {
    this.limit = config.security.authFailureLimit;
  }

  /** 429 E4004 when `ip` has used up its failures for this minute. */
  async check(ip: string): Promise<void> {
    if (this.limit === 0) return;
    const { count, msToReset } = await this.store.peek(key(ip));
    if (count < this.limit) return;
    const seconds = Math.max(1, Math.ceil(msToReset / 1000));
    throw new AppException(ErrorCode.E4004, {
      message: `Too many failed authentications from this address: try again in ${seconds} s`,
      headers: { 'Retry-After': String(seconds) },
    });
  }

  async failed(ip: string): Promise<void> {
    if (this.limit === 0) return;
    await this.store.hit(key(ip), WINDOW_MS);
  }
}

const key = (ip: string) => `authfail:ip:${ip}`;
