import { LruMap } from './lru-map';

describe(LruMap.name, () => {
  it('should evict the least recently used entry beyond its bound', () => {
    const sut = new LruMap<number>(2);
    sut.set('a', 1);
    sut.set('b', 2);
    expect(sut.get('a')).toBe(1); // a is now the most recent
    sut.set('c', 3);
    expect([...sut.keys()]).toEqual(['a', 'c']);
    expect(sut.size).toBe(2);
  });

  it('should replace an existing key without evicting another', () => {
    const sut = new LruMap<number>(2);
    sut.set('a', 1);
    sut.set('b', 2);
    sut.set('a', 10);
    expect([...sut.entries()]).toEqual([
      ['b', 2],
      ['a', 10],
    ]);
  });
});
