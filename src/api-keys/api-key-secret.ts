import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const API_KEY_PREFIX = 'hapa_';
const DISPLAY_CHARS = 12;
// 32 random bytes → 43 base64url characters (256 bits).
const KEY_SHAPE = /^hapa_[A-Za-z0-9_-]{32,128}$/;

export interface NewApiKeySecret {
  /** Shown once to the caller; never stored. */
  plaintext: string;
  hash: string;
  displayPrefix: string;
}

export function newApiKeySecret(): NewApiKeySecret {
  const plaintext = API_KEY_PREFIX + randomBytes(32).toString('base64url');
  return { plaintext, hash: hashApiKey(plaintext), displayPrefix: plaintext.slice(0, DISPLAY_CHARS) };
}

export const hashApiKey = (plaintext: string): string => createHash('sha256').update(plaintext, 'utf8').digest('hex');

/** Cheap shape check so malformed credentials never reach the cache or the database. */
export const looksLikeApiKey = (value: string): boolean => KEY_SHAPE.test(value);

/** Constant-time equality of two hex digests. */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
