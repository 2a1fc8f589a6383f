import { JsonLogger, redact } from './json-logger';

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

describe(redact.name, () => {
  it('should leave harmless values alone', () => {
    expect(redact({ route: '/api/v1/code/generate', status: 200 })).toEqual({
      route: '/api/v1/code/generate',
      status: 200,
    });
  });
});
