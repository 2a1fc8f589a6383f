import { loadConfig } from '../config/app-config';
import { SafetyValidator } from './safety-validator';

describe(SafetyValidator.name, () => {
  const sut = new SafetyValidator(loadConfig({ SAFETY_LEVEL: 'standard' }));

  it('should flag destructive shell commands in any flag order', () => {
    for (const prompt of ['run rm -rf /tmp/x', 'rm -fr build', 'RM -Rf ~', 'rm  -vrf dir']) {
      expect(sut.checkInput(prompt)).toContain('destructive_shell');
    }
    expect(sut.checkInput('rm -r build')).not.toContain('destructive_shell');
  });

  it('should still classify pathological inputs (long flag runs, repeated openings)', () => {
    expect(sut.checkInput('rm -' + 'r'.repeat(16_000))).toEqual([]);
    expect(sut.checkInput('rm -' + 'r'.repeat(10) + 'f')).toContain('destructive_shell');
    const code = 'subprocess.run('.repeat(1000) + ')';
    expect(sut.scanCode(code, []).code_rules).toContain('subprocess');
    expect(sut.scanCode('subprocess.run("ls", shell=True)', []).code_rules).toContain('subprocess_shell');
  });
});
