import { countTokens, tokenize } from './emulator-tokenizer';

// Small deterministic PRNG so the fuzz case is reproducible.
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(tokenize.name, () => {
  it('should split words with their leading whitespace and punctuation one character at a time', () => {
    expect(tokenize('def foo(x):\n    return x')).toEqual(['def', ' foo', '(', 'x', ')', ':', '\n    return', ' x']);
  });

  it('should keep a non-BMP character in one token and split nothing inside it', () => {
    const tokens = tokenize('ok 🚀 done — é');
    expect(tokens).toEqual(['ok', ' 🚀', ' done', ' —', ' é']);
  });

  it('should emit trailing whitespace as its own token', () => {
    expect(tokenize('x = 1\n\n')).toEqual(['x', ' =', ' 1', '\n\n']);
  });

  it('should return no tokens for an empty string', () => {
    expect(tokenize('')).toEqual([]);
    expect(countTokens('')).toBe(0);
  });

  it('should concatenate back to the input for awkward strings', () => {
    const samples = [
      '   leading',
      'tabs\tand\r\nCRLF\r\n',
      '한국어 문장입니다.',
      'emoji 👩‍💻 zwj and lone \ud800 surrogate',
      '<｜fim▁begin｜>def f(<｜fim▁hole｜>)<｜fim▁end｜>',
      '```python\nprint("hi")\n```',
      ' ',
    ];
    for (const sample of samples) expect(tokenize(sample).join('')).toBe(sample);
  });

  it('should concatenate back to the input for random strings', () => {
    const sut = tokenize;
    const alphabet = ['a', 'Z', '9', '_', ' ', '\n', '\t', '(', '"', '—', 'é', '한', '🚀', '\r', '<', '|'];
    const random = mulberry32(42);
    for (let i = 0; i < 300; i++) {
      let text = '';
      const length = Math.floor(random() * 60);
      for (let j = 0; j < length; j++) text += alphabet[Math.floor(random() * alphabet.length)];
      expect(sut(text).join('')).toBe(text);
    }
  });
});
