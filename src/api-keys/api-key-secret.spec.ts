import { createHash } from 'node:crypto';
import { hashApiKey, looksLikeApiKey, newApiKeySecret, sameHash } from './api-key-secret';

describe(newApiKeySecret.name, () => {
  it('should make hapa_ keys of 256 random bits with their SHA-256 and a short display prefix', () => {
    const sut = newApiKeySecret();
    expect(sut.plaintext).toMatch(/^hapa_[A-Za-z0-9_-]{43}$/);
    expect(sut.hash).toBe(createHash('sha256').update(sut.plaintext).digest('hex'));
    expect(sut.displayPrefix).toBe(sut.plaintext.slice(0, 12));
    expect(looksLikeApiKey(sut.plaintext)).toBe(true);
    expect(newApiKeySecret().plaintext).not.toBe(sut.plaintext);
  });

  it('should compare hashes in constant time and refuse malformed ones', () => {
    const h = hashApiKey('hapa_x');
    expect(sameHash(h, h)).toBe(true);
    expect(sameHash(h, hashApiKey('hapa_y'))).toBe(false);
    expect(sameHash(h, '')).toBe(false);
    expect(looksLikeApiKey('hapa_short')).toBe(false);
    expect(looksLikeApiKey("hapa_' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaaaaaaa")).toBe(false);
  });
});
