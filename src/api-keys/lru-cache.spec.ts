import { LruCache } from './lru-cache';

describe(LruCache.name, () => {
  it('should evict the least recently used entry beyond its bound', () => {
    const sut = new LruCache<string, number>(2, 1000);
    sut.set('a', 1, 0);
    sut.set('b', 2, 0);
    expect(sut.get('a', 1)).toBe(1);
    sut.set('c', 3, 1);
    expect(sut.get('b', 2)).toBeUndefined();
    expect(sut.get('a', 2)).toBe(1);
    expect(sut.get('c', 2)).toBe(3);
  });

  it('should expire entries after the TTL', () => {
    const sut = new LruCache<string, number>(10, 100);
    sut.set('a', 1, 0);
    expect(sut.get('a', 99)).toBe(1);
    expect(sut.get('a', 100)).toBeUndefined();
    expect(sut.size).toBe(0);
  });
});
