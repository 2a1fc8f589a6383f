import {
  ArgumentMetadata,
  HttpException,
  Injectable,
  PipeTransform,
  Type,
  ValidationError,
  ValidationPipe,
} from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { AppException, FieldProblem } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-codes';
import { CompiledValidation } from './compiled-validation';

// A value of the wrong type fails its length and range rules too; only the type says what to fix.
const TYPE_CHECKS = ['isString', 'isInt', 'isNumber', 'isBoolean', 'isArray', 'isObject'];

function flatten(errors: ValidationError[], parent = ''): { problem: FieldProblem; missing: boolean }[] {
  return errors.flatMap((e) => {
    const field = parent ? `${parent}.${e.property}` : e.property;
    const missing = e.value === undefined || e.value === null;
    const constraints = e.constraints ?? {};
    const typeCheck = missing ? undefined : TYPE_CHECKS.find((k) => k in constraints);
    const messages = typeCheck ? [constraints[typeCheck]] : Object.values(constraints);
    const own = messages.map((message) => ({ problem: { field, message }, missing }));
    return [...own, ...flatten(e.children ?? [], field)];
  });
}

/**
 * Global DTO validation: unknown fields are stripped (the extension sends more than we need),
 * missing fields → 422 E4002, wrong type/range/enum → 422 E4006, a body that is not an object → 400 E4001.
 * `null` means absent: on an optional field it is accepted and removed (so defaults apply), on a required
 * one it is reported missing (E4002). A validator that throws on a value (class-validator's IsEmail does on
 * a lone surrogate) is a 422 E4006 naming the field, never a 500.
 */
@Injectable()
export class AppValidationPipe implements PipeTransform {
  private readonly compiled = new CompiledValidation();
  private readonly inner = new ValidationPipe({
    whitelist: true,
    transform: true,
    forbidUnknownValues: false,
    validationError: { target: false, value: true },
    exceptionFactory: (errors) => {
      const all = flatten(errors);
      const missing = all.filter((p) => p.missing);
      const chosen = missing.length > 0 ? missing : all;
      const details = dedupe(chosen.map((p) => p.problem));
      const code = missing.length > 0 ? ErrorCode.E4002 : ErrorCode.E4006;
      const message = missing.length > 0 ? 'Missing required field(s)' : 'Invalid field value(s)';
      return new AppException(code, { message, details });
    },
  });

  async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' && metadata.metatype && metadata.metatype !== Object) {
      if (value === undefined || value === null || (typeof value === 'object' && Object.keys(value).length === 0)) {
        // No body (or no content type): validate an empty object so required fields are reported.
        value = {};
      } else if (typeof value !== 'object' || Array.isArray(value)) {
        throw new AppException(ErrorCode.E4001, { message: 'Request body must be a JSON object' });
      }
    }
    if (metadata.type === 'body') {
      // Hot bodies that pass every rule skip class-transformer + class-validator; anything else goes on below.
      const fast = this.compiled.tryTransform(value, metadata.metatype);
      if (fast !== undefined) return dropNulls(fast);
    }
    let result: unknown;
    try {
      result = await this.inner.transform(value, metadata);
    } catch (e) {
      if (e instanceof AppException || e instanceof HttpException) throw e;
      // class-transformer recurses into unknown fields too: absurdly deep JSON overflows the stack.
      if (e instanceof RangeError)
        throw new AppException(ErrorCode.E4001, { message: 'Request body is nested too deeply' });
      const field = await throwingField(value, metadata.metatype);
      throw new AppException(ErrorCode.E4006, {
        message: 'Invalid field value(s)',
        details: [{ field: field ?? metadata.data ?? metadata.type, message: 'value could not be validated' }],
        cause: e,
      });
    }
    return dropNulls(result);
  }
}

/** Removes null-valued properties of validated DTO instances, nested DTOs included; free-form objects are kept as sent. */
function dropNulls(value: unknown): unknown {
  if (!isDtoInstance(value)) return value;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (record[key] === null) delete record[key];
    else dropNulls(record[key]);
  }
  return value;
}

function isDtoInstance(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as object | null;
  return proto !== null && proto !== Object.prototype;
}

/** Which top-level field makes validation throw: each one validated alone. Only on the error path. */
async function throwingField(value: unknown, metatype?: Type<unknown>): Promise<string | undefined> {
  if (!metatype || typeof value !== 'object' || value === null) return undefined;
  for (const [field, v] of Object.entries(value)) {
    try {
      const alone = plainToInstance(metatype, { [field]: v }) as object;
      await validate(alone, { skipMissingProperties: true, forbidUnknownValues: false });
    } catch {
      return field;
    }
  }
  return undefined;
}

function dedupe(problems: FieldProblem[]): FieldProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.field}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
