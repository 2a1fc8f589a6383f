import { detectFim, FIM_MARKERS, FimMarkerStripper, renderFim, templateMarkers } from './fim-formats';

const PREFIX = '# add two numbers\ndef add(a, b):\n    ';
const SUFFIX = '\n\nprint(add(1, 2))\n';

describe('detectFim', () => {
  it.each([
    ['deepseek', `<｜fim▁begin｜>${PREFIX}<｜fim▁hole｜>${SUFFIX}<｜fim▁end｜>`],
    ['starcoder', `<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`],
    ['qwen', `<|fim_prefix|>${PREFIX}<|fim_suffix|>${SUFFIX}<|fim_middle|>`],
    ['codellama', `<PRE> ${PREFIX} <SUF>${SUFFIX} <MID>`],
    ['codestral', `[SUFFIX]${SUFFIX}[PREFIX]${PREFIX}`],
    ['hapa', `<|fim_begin|>${PREFIX}<|fim_hole|>${SUFFIX}<|fim_end|>`],
  ])('should split the %s format into the exact prefix and suffix', (format, prompt) => {
    expect(detectFim(prompt)).toEqual({ format, prefix: PREFIX, suffix: SUFFIX });
  });

  it('should keep text before the first marker in the prefix', () => {
    const context = '<file_sep>utils.py\ndef helper(): pass\n';
    expect(detectFim(`${context}<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}<fim_middle>`)).toEqual({
      format: 'starcoder',
      prefix: context + PREFIX,
      suffix: SUFFIX,
    });
    expect(detectFim(`Context: x = 1\n[SUFFIX]${SUFFIX}[PREFIX]${PREFIX}`)?.prefix).toBe(`Context: x = 1\n${PREFIX}`);
  });

  it('should read a prompt without its end marker, and a begin marker without a hole as all prefix', () => {
    expect(detectFim(`<fim_prefix>${PREFIX}<fim_suffix>${SUFFIX}`)).toEqual({
      format: 'starcoder',
      prefix: PREFIX,
      suffix: SUFFIX,
    });
    expect(detectFim(`<|fim_prefix|>${PREFIX}`)).toEqual({ format: 'qwen', prefix: PREFIX, suffix: '' });
  });

  it('should leave plain text alone', () => {
    expect(detectFim('def add(a, b):\n    return a + b  # <not a marker>')).toBeUndefined();
  });
});

describe('renderFim and templateMarkers', () => {
  const template = '<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>';

  it('should render verbatim code, slot-like text included', () => {
    expect(renderFim(template, 'a = "{suffix}$&"', 'b')).toBe(
      '<｜fim▁begin｜>a = "{suffix}$&"<｜fim▁hole｜>b<｜fim▁end｜>',
    );
  });

  it('should name the template markers as stop strings', () => {
    expect(templateMarkers(template)).toEqual(['<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>']);
    expect(templateMarkers('<PRE> {prefix} <SUF>{suffix} <MID>')).toEqual(['<PRE>', '<SUF>', '<MID>']);
  });
});

describe(FimMarkerStripper.name, () => {
  it('should remove every known marker, also when split across deltas', () => {
    const sut = new FimMarkerStripper();
    const text = `x = 1<fim_middle>y = 2<｜fim▁end｜>[PREFIX]z`;
    let out = '';
    for (const ch of text) out += sut.push(ch);
    out += sut.flush();
    expect(out).toBe('x = 1y = 2z');
    for (const m of FIM_MARKERS) expect(out).not.toContain(m);
  });

  it('should give back a held tail that never became a marker', () => {
    const sut = new FimMarkerStripper();
    expect(sut.push('if a <')).toBe('if a ');
    expect(sut.push(' b: [')).toBe('< b: ');
    expect(sut.flush()).toBe('[');
  });
});
