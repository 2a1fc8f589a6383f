import { LoggerService } from '@nestjs/common';
import { maskUrlUserInfo } from '../../config/mask-url';

const FRAMEWORK_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// Field names whose values are never written, whatever logs them.
const SECRET_FIELD = /(authorization|api[-_]?key|secret|password|token|cookie)/i;
// Values that look like credentials are masked even under innocent names.
const SECRET_VALUE = /(hapa_[A-Za-z0-9_-]{8,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)/g;

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskUrlUserInfo(value.replace(SECRET_VALUE, '[REDACTED]'));
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (value instanceof Error) return { name: value.name, message: redact(value.message) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? '[REDACTED]' : redact(v, depth + 1);
  return out;
}

/**
 * One JSON object per line on stdout (or plain text when STRUCTURED_LOGGING=false). Also serves as
 * Nest's logger so framework messages share the format.
 */
export class JsonLogger implements LoggerService {
  private readonly min: number;

  constructor(
    level: LogLevel = 'info',
    private readonly structured = true,
    private readonly out: (line: string) => void = (line) => process.stdout.write(line + '\n'),
  ) {
    this.min = RANK[level];
  }

  isEnabled(level: LogLevel): boolean {
    return RANK[level] >= this.min;
  }

  /** Lines that must appear at any LOG_LEVEL (the start-up line), written as info. */
  always(msg: string, fields?: Record<string, unknown>): void {
    this.emit('info', msg, fields);
  }

  write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (RANK[level] < this.min) return;
    this.emit(level, msg, fields);
  }

  private emit(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    const safeMsg = redact(msg) as string;
    const safeFields = fields ? (redact(fields) as Record<string, unknown>) : undefined;
    if (this.structured) {
      this.out(JSON.stringify({ level, time: new Date().toISOString(), msg: safeMsg, ...safeFields }));
    } else {
      const extra = safeFields ? ' ' + JSON.stringify(safeFields) : '';
      this.out(`${new Date().toISOString()} ${level.toUpperCase()} ${safeMsg}${extra}`);
    }
  }

  // LoggerService: Nest passes (message, context) or (message, stack, context).
  log(message: unknown, context?: string): void {
    // Nest's start-up chatter (modules, routes) would bury the one start-up line.
    const level = context && FRAMEWORK_CONTEXTS.has(context) ? 'debug' : 'info';
    this.write(level, String(message), context ? { context } : undefined);
  }
  warn(message: unknown, context?: string): void {
    this.write('warn', String(message), context ? { context } : undefined);
  }
  debug(message: unknown, context?: string): void {
    this.write('debug', String(message), context ? { context } : undefined);
  }
  verbose(message: unknown, context?: string): void {
    this.write('debug', String(message), context ? { context } : undefined);
  }
  error(message: unknown, stackOrContext?: string, context?: string): void {
    const fields: Record<string, unknown> = {};
    if (context) {
      fields.context = context;
      if (stackOrContext) fields.stack = stackOrContext;
    } else if (stackOrContext) fields.context = stackOrContext;
    this.write('error', message instanceof Error ? message.message : String(message), fields);
  }
}

/** DI token for the app's logger instance (the same one Nest uses). */
export abstract class AppLogger extends JsonLogger {}
