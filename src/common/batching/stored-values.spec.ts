import { clip, storedMethod } from './stored-values';

describe(storedMethod.name, () => {
  it('should keep the usual seven methods and store any other as OTHER', () => {
    for (const m of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']) expect(storedMethod(m)).toBe(m);
    for (const m of ['UNSUBSCRIBE', 'MKCALENDAR', 'PROPFIND', 'get', '']) expect(storedMethod(m)).toBe('OTHER');
  });
});

describe(clip.name, () => {
  it('should remove NUL bytes and cut to the column length without splitting a surrogate pair', () => {
    expect(clip('a\u0000b', 10)).toBe('ab');
    expect(clip('abcdef', 3)).toBe('abc');
    expect(clip('ab😀', 3)).toBe('ab');
    expect(clip('short', 100)).toBe('short');
  });
});
