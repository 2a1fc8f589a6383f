import { GenerateCodeDto } from './dto/generate-code.dto';
import { buildFimPrompt } from '../generation/fim-prompt';
import { effectiveProfile, splitCodeAndExplanation } from './prompt-builder';

describe('prompt builder', () => {
  it('should resolve request > stored preferences > defaults', () => {
    const dto = Object.assign(new GenerateCodeDto(), { user_profile: { explanationStyle: 'brief' } });
    const sut = effectiveProfile(dto, { explanationStyle: 'educational', pythonSkillLevel: 'expert' });
    expect(sut.explanation).toBe('brief');
    expect(sut.skill).toBe('expert');
    expect(sut.errorHandling).toBe('basic');
  });

  it('should split code and explanation on separators and fences', () => {
    expect(splitCodeAndExplanation('```python\ndef f():\n    pass\n```\n\n--- Rationale ---\nBecause.')).toEqual({
      code: 'def f():\n    pass',
      explanation: 'Because.',
    });
    expect(splitCodeAndExplanation('Intro.\n\n```python\nx = 1\n```\n\nAfter.')).toEqual({
      code: 'x = 1',
      explanation: 'Intro.\n\nAfter.',
    });
    expect(splitCodeAndExplanation('x = 1\n--- Fix Explanation ---\nFixed.')).toEqual({
      code: 'x = 1',
      explanation: 'Fixed.',
    });
  });

  it('should place prefix and suffix verbatim even when the code contains the placeholders', () => {
    const template = '<B>{prefix}<H>{suffix}<E>';
    const prefix = 'print(f"{prefix}{suffix}")\nx = $&';
    const suffix = '\nreturn x  # {prefix}';
    expect(buildFimPrompt(template, prefix, suffix)).toBe(`<B>${prefix}<H>${suffix}<E>`);
  });
});
