import { createHmac } from 'node:crypto';
import { loadConfig } from '../config/app-config';
import { AccessTokenService } from './access-token.service';

const SECRET = 'unit-test-secret-of-at-least-32-characters';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const sign = (input: string, secret = SECRET) => createHmac('sha256', secret).update(input).digest('base64url');

describe(AccessTokenService.name, () => {
  const sut = new AccessTokenService(loadConfig({ SECRET_KEY: SECRET, ACCESS_TOKEN_EXPIRE_MINUTES: '10' }));

  it('should sign a standard HS256 JWT with sub and exp in seconds, and verify it', () => {
    const now = Date.UTC(2026, 0, 1);
    const token = sut.sign('user-1', now);
    const [h, p, s] = token.split('.');
    expect(JSON.parse(Buffer.from(h, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(JSON.parse(Buffer.from(p, 'base64url').toString())).toEqual({
      sub: 'user-1',
      iat: now / 1000,
      exp: now / 1000 + 600,
    });
    expect(s).toBe(sign(`${h}.${p}`));
    expect(sut.verify(token, now)).toEqual({
      ok: true,
      claims: { sub: 'user-1', iat: now / 1000, exp: now / 1000 + 600 },
    });
    expect(sut.verify(token, now + 600_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('should refuse other algorithms, bad signatures and malformed tokens', () => {
    const exp = Math.floor(Date.now() / 1000) + 60;
    const body = b64({ sub: 'u', exp });
    const none = `${b64({ alg: 'none' })}.${body}.`;
    const hs512 = `${b64({ alg: 'HS512' })}.${body}`;
    const forged = `${b64({ alg: 'HS256' })}.${body}`;
    for (const t of [
      none,
      `${hs512}.${sign(hs512)}`,
      `${forged}.${sign(forged, 'wrong-secret')}`,
      'a.b',
      'x.y.z',
      '',
    ]) {
      expect(sut.verify(t)).toEqual({ ok: false, reason: 'invalid' });
    }
    const noSub = `${b64({ alg: 'HS256' })}.${b64({ exp })}`;
    expect(sut.verify(`${noSub}.${sign(noSub)}`)).toEqual({ ok: false, reason: 'invalid' });
  });

  it('should carry a permission scope when given one, and refuse a malformed scope', () => {
    const now = Date.now();
    const scoped = sut.verify(sut.sign('u', now, ['code_completion']), now);
    expect(scoped).toMatchObject({ ok: true, claims: { sub: 'u', perm: ['code_completion'] } });
    const exp = Math.floor(now / 1000) + 60;
    const bad = `${b64({ alg: 'HS256' })}.${b64({ sub: 'u', exp, perm: 'admin' })}`;
    expect(sut.verify(`${bad}.${sign(bad)}`)).toEqual({ ok: false, reason: 'invalid' });
  });
});
