import { ValidationPipe } from '@nestjs/common';
import { IsEmail, IsOptional, IsString } from 'class-validator';
import { CompleteCodeDto } from '../../code-gen/dto/complete-code.dto';
import { GenerateCodeDto } from '../../code-gen/dto/generate-code.dto';
import { LANGUAGE_FEATURES, SKILL_LEVELS } from '../ports/user-preferences.port';
import { CompiledValidation } from './compiled-validation';

// The reference: what AppValidationPipe runs when the fast path declines.
const reference = new ValidationPipe({ whitelist: true, transform: true, forbidUnknownValues: false });

async function classValidator(body: object, metatype: new () => object): Promise<object | 'rejected'> {
  try {
    return (await reference.transform(structuredClone(body), { type: 'body', metatype })) as object;
  } catch {
    return 'rejected';
  }
}

/** Deterministic pseudo-random numbers (mulberry32): a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Edges of the DTOs' limits (4,000 / 16,000 characters, temperature ≤ 2, max_tokens ≤ 4,096 / 512) and wrong types.
const ODD_VALUES: unknown[] = [
  null,
  '',
  ' ',
  'x'.repeat(4000),
  'x'.repeat(4001),
  'x'.repeat(16001),
  '😀'.repeat(2001),
  -1,
  0,
  0.5,
  1.5,
  2.0000001,
  3,
  512,
  513,
  4097,
  true,
  'true',
  '1',
  {},
  [],
  ['a'],
];

const FIELDS: Record<string, unknown[]> = {
  prompt: ['write a sort', 'def f():\n  pass'],
  user_question: ['why?'],
  context: ['ctx'],
  model_type: ['code_generation', 'code_completion', 'nope'],
  temperature: [0, 0.2, 2],
  top_p: [0, 0.9, 1],
  max_tokens: [1, 64, 4096],
  cache: [true, false],
  user_profile: [
    { pythonSkillLevel: SKILL_LEVELS[0] },
    { pythonSkillLevel: 'guru' },
    { preferredLanguageFeatures: [LANGUAGE_FEATURES[0], LANGUAGE_FEATURES[1]], extra: 1 },
    { preferredLanguageFeatures: ['nope'] },
  ],
  prefix: ['def add(a, b):\n    return '],
  suffix: ['\n'],
  max_suggestions: [1, 10],
  unknown_field: ['dropped', { deep: { deeper: true } }],
};

function randomBody(next: () => number): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [field, good] of Object.entries(FIELDS)) {
    const r = next();
    if (r < 0.45) continue;
    const pool = r < 0.85 ? good : ODD_VALUES;
    body[field] = structuredClone(pool[Math.floor(next() * pool.length)]);
  }
  return body;
}

class UnsupportedDto {
  @IsEmail()
  email!: string;
  @IsOptional()
  @IsString()
  name?: string;
}

describe(CompiledValidation.name, () => {
  it.each([
    ['GenerateCodeDto', GenerateCodeDto],
    ['CompleteCodeDto', CompleteCodeDto],
  ])('should build what class-validator builds for %s, or decline', async (_, metatype) => {
    const sut = new CompiledValidation();
    const next = rng(14);
    let fast = 0;
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const body = randomBody(next);
      const expected = await classValidator(body, metatype);
      const actual = sut.tryTransform(structuredClone(body), metatype);
      if (expected !== 'rejected') accepted++;
      if (actual === undefined) continue;
      fast++;
      expect(expected).not.toBe('rejected');
      expect(actual).toBeInstanceOf(metatype);
      expect(actual).toStrictEqual(expected);
      expect(Object.keys(actual)).toEqual(Object.keys(expected as object));
    }
    // The fast path must take most valid bodies, or it is no fast path at all.
    expect(accepted).toBeGreaterThan(100);
    expect(fast).toBeGreaterThan(accepted / 2);
  });

  it('should nest the profile as its DTO class', () => {
    const sut = new CompiledValidation();
    const out = sut.tryTransform(
      { prompt: 'p', user_profile: { pythonSkillLevel: 'expert', bogus: 1 }, other: 2 },
      GenerateCodeDto,
    ) as GenerateCodeDto;
    expect(out).toBeInstanceOf(GenerateCodeDto);
    expect(out.user_profile?.constructor.name).toBe('UserProfileDto');
    expect(out).toEqual({ prompt: 'p', user_profile: { pythonSkillLevel: 'expert' } });
  });

  it('should decline a DTO with a rule it does not know, and bodies that are not plain objects', () => {
    const sut = new CompiledValidation();
    expect(sut.tryTransform({ email: 'a@b.c' }, UnsupportedDto)).toBeUndefined();
    expect(sut.tryTransform([{ prompt: 'p' }], GenerateCodeDto)).toBeUndefined();
    expect(sut.tryTransform('prompt', GenerateCodeDto)).toBeUndefined();
    expect(sut.tryTransform({ prompt: 'p' }, Object)).toBeUndefined();
  });
});
