import { Injectable } from '@nestjs/common';
import { AppException } from '../common/errors/app.exception';
import { ErrorCode } from '../common/errors/error-codes';
import { AppConfig } from '../config/app-config';

export type SafetyLevel = 'off' | 'standard' | 'strict';

interface Rule {
  id: string;
  pattern: RegExp;
}

// Prompts asking for dangerous operations (the original HAPA validator's categories).
const INPUT_RULES: Rule[] = [
  { id: 'os_system', pattern: /\bos\.(system|popen|exec[lv]p?e?|spawn\w*)\b/i },
  { id: 'subprocess', pattern: /\bsubprocess\b|\bPopen\s*\(/i },
  { id: 'eval_exec', pattern: /\b(eval|exec)\s*\(|\b(use|using|call|with)\s+(eval|exec)\b/i },
  {
    id: 'destructive_shell',
    // bounded lookaheads: `rm -rrrr…` must not backtrack quadratically (the context field is 16k chars)
    pattern: /\brm\s{1,8}-(?=[a-z]{0,16}r)(?=[a-z]{0,16}f)|\bmkfs\b|\bdd\s+if=|:\(\)\s*\{\s*:\|:&\s*\};:/i,
  },
  { id: 'sql_destruction', pattern: /\b(drop\s+(table|database|schema)|truncate\s+table)\b/i },
  {
    id: 'delete_everything',
    pattern:
      /\b(delete|wipe|erase|remove)\s+(all|every)\s+(files|data|the\s+files|the\s+disk)\b|shutil\.rmtree\s*\(\s*['"]\//i,
  },
  {
    id: 'credential_theft',
    pattern:
      /\b(steal|harvest|exfiltrate|dump|grab|extract)\s+(\w+\s+){0,3}(passwords?|credentials?|cookies|tokens?|api\s*keys?|private\s+keys?)\b|\/etc\/(passwd|shadow)\b/i,
  },
  { id: 'malware', pattern: /\b(keylogger|ransomware|reverse\s+shell|backdoor|botnet|trojan)\b/i },
  { id: 'privilege_escalation', pattern: /\b(privilege\s+escalation|setuid\s*\(\s*0|sudo\s+rm)\b/i },
];

// Risky constructs in generated code; reported, never altered.
const CODE_RULES: Rule[] = [
  { id: 'os_system', pattern: /\bos\.(system|popen|exec[lv]p?e?|spawn\w*)\s*\(/ },
  { id: 'subprocess_shell', pattern: /\bsubprocess\.\w+\([^)]{0,300}shell\s*=\s*True/ }, // bounded: no quadratic scan
  { id: 'subprocess', pattern: /\bsubprocess\.(run|call|Popen|check_output|check_call)\s*\(/ },
  { id: 'eval_exec', pattern: /(^|[^.\w])(eval|exec)\s*\(/m },
  { id: 'pickle_loads', pattern: /\bpickle\.loads?\s*\(|\byaml\.load\s*\((?![^)]*Loader\s*=\s*yaml\.SafeLoader)/ },
  { id: 'rmtree', pattern: /\bshutil\.rmtree\s*\(/ },
  { id: 'dynamic_import', pattern: /\b__import__\s*\(/ },
  { id: 'sql_destruction', pattern: /\b(DROP\s+(TABLE|DATABASE)|TRUNCATE\s+TABLE)\b/i },
  { id: 'hardcoded_secret', pattern: /\b(password|passwd|secret|api_key|token)\s*=\s*['"][^'"]{6,}['"]/i },
];

export interface SecurityInfo {
  input_validated: boolean;
  code_validated: boolean;
  threat_detected: boolean;
  input_rules: string[];
  code_rules: string[];
  safety_level: SafetyLevel;
}

function matches(rules: Rule[], text: string): string[] {
  const out: string[] = [];
  for (const r of rules) if (r.pattern.test(text)) out.push(r.id);
  return out;
}

/**
 * SAFETY_LEVEL off | standard | strict. Strict refuses dangerous prompts (400 E4011 with the
 * matched rules); standard reports them; every level scans the generated code and reports.
 */
@Injectable()
export class SafetyValidator {
  readonly level: SafetyLevel;

  constructor(config: AppConfig) {
    this.level = config.codeGen.safetyLevel;
  }

  /** Returns the input rules matched (empty when off); throws E4011 in strict mode. */
  checkInput(...texts: (string | undefined)[]): string[] {
    if (this.level === 'off') return [];
    const found = new Set<string>();
    for (const t of texts) if (t) for (const id of matches(INPUT_RULES, t)) found.add(id);
    const rules = [...found];
    if (this.level === 'strict' && rules.length > 0) {
      throw new AppException(ErrorCode.E4011, {
        message: `Unsafe input blocked: ${rules.join(', ')}`,
        details: rules.map((r) => ({ field: 'prompt', message: `matched safety rule ${r}` })),
      });
    }
    return rules;
  }

  scanCode(code: string, inputRules: string[]): SecurityInfo {
    const codeRules = matches(CODE_RULES, code);
    return {
      input_validated: this.level !== 'off',
      code_validated: true,
      threat_detected: inputRules.length > 0 || codeRules.length > 0,
      input_rules: inputRules,
      code_rules: codeRules,
      safety_level: this.level,
    };
  }
}
