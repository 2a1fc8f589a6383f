import { createHmac, randomBytes } from 'node:crypto';
import type { TestApp } from './test-app';

/** Test helpers for identity: unique emails, self-service keys, login tokens, JWTs signed by hand. */
const email = (tag = 'dev'): string => `${tag}-${randomBytes(4).toString('hex')}@example.com`;

export const factory = {
  email,
  async apiKey(
    app: TestApp,
    address = email(),
  ): Promise<{ key: string; userId: string; keyId: string; email: string }> {
    const res = await app.request('POST', '/api/v1/users/generate-api-key', { body: { email: address } });
    if (res.status !== 200) throw new Error(`generate-api-key: ${res.status} ${res.text}`);
    return { key: res.body.api_key, userId: res.body.user_id, keyId: res.body.key_id, email: address };
  },

  async adminKey(app: TestApp, adminKey: string, body: Record<string, unknown>) {
    const res = await app.request('POST', '/api/v1/admin/api-keys', { body, headers: { 'X-API-Key': adminKey } });
    if (res.status !== 200 && res.status !== 201) throw new Error(`admin issue: ${res.status} ${res.text}`);
    return { key: res.body.api_key as string, userId: res.body.user_id as string, keyId: res.body.key_id as string };
  },

  /** A JWT signed with `secret`, any header and claims (for forged, expired and alg-confusion tokens). */
  jwt(
    secret: string,
    claims: Record<string, unknown>,
    header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' },
  ): string {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const input = `${b64(header)}.${b64(claims)}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  },
};

export const ADMIN_KEY = 'admin-bootstrap-key-for-tests-0123456789';
export const SECRET = 'test-secret-key-of-at-least-thirty-two-characters';

export const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
export const xApiKey = (key: string) => ({ 'X-API-Key': key });

export async function until<T>(
  fn: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  stepMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
