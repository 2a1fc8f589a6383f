import { JsonLogger, redact } from './json-logger';
import { maskUrlUserInfo } from '../../config/mask-url';

describe(JsonLogger.name, () => {
  it('should write one JSON object per line and honour the level', () => {
    const lines: string[] = [];
    const sut = new JsonLogger('warn', true, (l) => lines.push(l));
    sut.write('info', 'dropped');
    sut.write('warn', 'kept', { route: '/x' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ level: 'warn', msg: 'kept', route: '/x' });
  });

  it('should never write API keys, tokens or passwords', () => {
    const lines: string[] = [];
    const sut = new JsonLogger('debug', true, (l) => lines.push(l));
    sut.write('info', 'key hapa_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 used', {
      headers: { authorization: 'Bearer x', 'x-api-key': 'hapa_zzz' },
      url: 'postgres://user:hunter2@db/x',
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig',
    });
    expect(lines[0]).not.toMatch(/hapa_AbCd|hunter2|Bearer x|hapa_zzz|eyJhbGci/);
  });
});

describe(maskUrlUserInfo.name, () => {
  it('should mask the user-info of every URL in a text and leave the rest alone', () => {
    expect(maskUrlUserInfo('up http://user:secret@host:8000/v1 and hapa+https://token@h2 down')).toBe(
      'up http://***@host:8000/v1 and hapa+https://***@h2 down',
    );
    expect(maskUrlUserInfo('mail dev@example.com at http://host/a@b')).toBe('mail dev@example.com at http://host/a@b');
  });

  it('should be applied to every log line', () => {
    const lines: string[] = [];
    new JsonLogger('debug', true, (l) => lines.push(l)).write('warn', 'model server down: http://u:p@10.0.0.5:8000', {
      reason: 'connect to redis://:pw@cache:6379 failed',
    });
    expect(JSON.parse(lines[0])).toMatchObject({
      msg: 'model server down: http://***@10.0.0.5:8000',
      reason: 'connect to redis://***@cache:6379 failed',
    });
  });
});

describe(redact.name, () => {
  it('should leave harmless values alone', () => {
    expect(redact({ route: '/api/v1/code/generate', status: 200 })).toEqual({
      route: '/api/v1/code/generate',
      status: 200,
    });
  });
});
