import { Injectable } from '@nestjs/common';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AppConfig } from '../config/app-config';

export interface AccessTokenClaims {
  sub: string;
  iat: number;
  exp: number;
  /** Permissions the token is scoped to; absent on unscoped tokens. */
  perm?: string[];
}

export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: 'invalid' | 'expired' };

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

/**
 * Login tokens: standard three-part JWTs, HS256 over SECRET_KEY, `sub` = user id, `exp` in seconds,
 * optional `perm` (the permissions the token is scoped to).
 */
@Injectable()
export class AccessTokenService {
  private readonly key: Buffer;
  readonly ttlSeconds: number;

  constructor(config: AppConfig) {
    this.key = Buffer.from(config.security.secretKey, 'utf8');
    this.ttlSeconds = config.security.accessTokenTtlSeconds;
  }

  sign(userId: string, nowMs = Date.now(), permissions?: readonly string[]): string {
    const iat = Math.floor(nowMs / 1000);
    const claims: AccessTokenClaims = { sub: userId, iat, exp: iat + this.ttlSeconds };
    if (permissions) claims.perm = [...permissions];
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    return `${HEADER}.${payload}.${this.mac(`${HEADER}.${payload}`).toString('base64url')}`;
  }

  verify(token: string, nowMs = Date.now()): VerifyResult {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'invalid' };
    const [h, p, s] = parts;
    const header = parseJson(h);
    // Only HS256: refuses alg "none" and any algorithm-confusion attempt.
    if (!header || header.alg !== 'HS256') return { ok: false, reason: 'invalid' };
    const given = Buffer.from(s, 'base64url');
    const expected = this.mac(`${h}.${p}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid' };
    const claims = parseJson(p);
    if (!claims || typeof claims.sub !== 'string' || typeof claims.exp !== 'number')
      return { ok: false, reason: 'invalid' };
    const perm = claims.perm;
    if (perm !== undefined && !(Array.isArray(perm) && perm.every((x) => typeof x === 'string')))
      return { ok: false, reason: 'invalid' };
    if (claims.exp <= Math.floor(nowMs / 1000)) return { ok: false, reason: 'expired' };
    return { ok: true, claims: claims as unknown as AccessTokenClaims };
  }

  private mac(input: string): Buffer {
    return createHmac('sha256', this.key).update(input).digest();
  }
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
