import { errorFingerprint, normaliseMessage } from './fingerprint';

describe('normaliseMessage', () => {
  it('should replace uuids, incident ids, long hex and numbers', () => {
    const sut = normaliseMessage;
    expect(sut('user 3f2b8c1e-1d2a-4b3c-9d8e-0123456789ab not found')).toBe('user <uuid> not found');
    expect(sut('see INC-20261122-9F3A1C07')).toBe('see <incident>');
    expect(sut('upstream 10.0.0.7:8001 timed out after 30000 ms')).toBe(
      'upstream <n>.<n>.<n>.<n>:<n> timed out after <n> ms',
    );
    expect(sut('object deadbeef42 missing')).toBe('object <hex> missing');
    expect(sut('Invalid API key')).toBe('Invalid API key');
  });

  it('should keep ordinary words that happen to be hex letters', () => {
    expect(normaliseMessage('bad cafe')).toBe('bad cafe');
  });
});

describe('errorFingerprint', () => {
  it('should be equal for the same code, route and normalised message and differ otherwise', () => {
    const a = errorFingerprint('E5004', '/x', normaliseMessage('failed after 12 ms'));
    const b = errorFingerprint('E5004', '/x', normaliseMessage('failed after 9000 ms'));
    expect(a).toBe(b);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(errorFingerprint('E5004', '/y', normaliseMessage('failed after 12 ms'))).not.toBe(a);
    expect(errorFingerprint('E5001', '/x', normaliseMessage('failed after 12 ms'))).not.toBe(a);
  });
});
