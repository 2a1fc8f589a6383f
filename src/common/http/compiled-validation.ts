import { TransformationType } from 'class-transformer';
import { getMetadataStorage, ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';

// class-transformer's decorator registry (where @Type, @Transform, @Expose live); its typings sit apart.
const { defaultMetadataStorage } =
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('class-transformer/cjs/storage') as typeof import('class-transformer/types/storage');

type Check = (value: unknown) => boolean;
type Plain = Record<string, unknown>;

interface Field {
  name: string;
  optional: boolean;
  checks: Check[];
  nested?: Compiled;
}

interface Compiled {
  metatype: new () => object;
  fields: Field[];
  byName: Map<string, Field>;
}

/** class-validator's built-in rules this fast path knows, each exactly as class-validator decides it. */
const RULES: Record<string, (constraints: unknown[]) => Check | undefined> = {
  isString: () => (v) => typeof v === 'string',
  isBoolean: () => (v) => typeof v === 'boolean',
  isInt: () => (v) => typeof v === 'number' && Number.isInteger(v),
  isArray: () => (v) => Array.isArray(v),
  isNumber: ([options]) => {
    const o = (options ?? {}) as { allowNaN?: boolean; allowInfinity?: boolean; maxDecimalPlaces?: number };
    if (o.allowNaN || o.allowInfinity || o.maxDecimalPlaces !== undefined) return undefined;
    return (v) => typeof v === 'number' && Number.isFinite(v);
  },
  min: ([min]) => (typeof min === 'number' ? (v) => typeof v === 'number' && v >= min : undefined),
  max: ([max]) => (typeof max === 'number' ? (v) => typeof v === 'number' && v <= max : undefined),
  // validator.js counts a surrogate pair as one character: within `length` is within the limit; anything
  // longer is left to class-validator.
  maxLength: ([max]) => (typeof max === 'number' ? (v) => typeof v === 'string' && v.length <= max : undefined),
  isIn: ([allowed]) => (Array.isArray(allowed) ? (v) => allowed.some((a) => a === v) : undefined),
  matches: ([pattern, modifiers]) => {
    const re = pattern instanceof RegExp ? pattern : new RegExp(String(pattern), modifiers as string | undefined);
    if (re.global || re.sticky) return undefined; // stateful: leave to class-validator
    return (v) => typeof v === 'string' && re.test(v);
  },
};

const isPrimitive = (v: unknown) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
/** What JSON.parse makes (from any realm): prototype Object.prototype, and nothing above it. */
function isPlainObject(v: unknown): v is Plain {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as object | null;
  return proto !== null && Object.getPrototypeOf(proto) === null;
}

/**
 * A fast path for request bodies in front of class-validator, compiled from the same decorators (the DTOs
 * stay the one source of the rules). It answers only when a body passes every rule and every value is
 * plain (strings, numbers, booleans, arrays of those, nested DTO objects); the instance it returns is the
 * one class-transformer + class-validator (whitelist, transform) would build. Anything else — a failing
 * rule, an odd value, a DTO with a decorator it does not know — gets `undefined`: class-validator decides
 * and words the errors.
 */
export class CompiledValidation {
  private readonly compiled = new Map<unknown, Compiled | null>();

  tryTransform(value: unknown, metatype: unknown): object | undefined {
    if (!isPlainObject(value) || typeof metatype !== 'function') return undefined;
    let c = this.compiled.get(metatype);
    if (c === undefined) {
      c = compile(metatype as new () => object, new Set());
      this.compiled.set(metatype, c);
    }
    if (!c) return undefined;
    try {
      return build(c, value);
    } catch {
      return undefined; // a DTO constructor that throws: class-validator's path reports it
    }
  }
}

function compile(metatype: new () => object, seen: Set<unknown>): Compiled | null {
  if (seen.has(metatype)) return null; // self-referencing DTOs: not worth it
  seen.add(metatype);
  const metas = getMetadataStorage().getTargetValidationMetadatas(metatype, '', false, false, undefined);
  if (metas.length === 0) return null;
  if (
    defaultMetadataStorage.getExposedMetadatas(metatype).length > 0 ||
    defaultMetadataStorage.getExcludedMetadatas(metatype).length > 0
  ) {
    return null;
  }
  const byName = new Map<string, Field>();
  for (const m of metas) {
    let f = byName.get(m.propertyName);
    if (!f) {
      if (
        defaultMetadataStorage.findTransformMetadatas(metatype, m.propertyName, TransformationType.PLAIN_TO_CLASS)
          .length > 0
      ) {
        return null;
      }
      f = { name: m.propertyName, optional: false, checks: [] };
      byName.set(m.propertyName, f);
    }
    if (!addRule(f, m, metatype, seen)) return null;
  }
  for (const f of byName.values()) {
    const type = defaultMetadataStorage.findTypeMetadata(metatype, f.name);
    if (type && !f.nested) return null; // @Type converts values: class-transformer's business
  }
  return { metatype, fields: [...byName.values()], byName };
}

function addRule(f: Field, m: ValidationMetadata, metatype: new () => object, seen: Set<unknown>): boolean {
  if (m.always || (m.groups && m.groups.length > 0) || m.validateIf) return false;
  switch (m.type) {
    case ValidationTypes.CONDITIONAL_VALIDATION:
      if (m.name !== 'isOptional') return false; // ValidateIf: arbitrary code
      f.optional = true;
      return true;
    case ValidationTypes.NESTED_VALIDATION: {
      if (m.each) return false;
      const type = defaultMetadataStorage.findTypeMetadata(metatype, f.name);
      const inner = type?.typeFunction() as (new () => object) | undefined;
      if (typeof inner !== 'function' || type?.options?.discriminator) return false;
      const nested = compile(inner, seen);
      if (!nested) return false;
      f.nested = nested;
      return true;
    }
    case ValidationTypes.CUSTOM_VALIDATION: {
      const rule = m.name ? RULES[m.name]?.(m.constraints ?? []) : undefined;
      if (!rule) return false;
      f.checks.push(m.each ? (v) => (Array.isArray(v) ? v.every(rule) : rule(v)) : rule);
      return true;
    }
    default:
      return false;
  }
}

function build(c: Compiled, plain: Plain): object | undefined {
  const out = new c.metatype() as Plain;
  // whitelist: class-validator drops every property without a rule, initialised ones included
  for (const k of Object.keys(out)) if (!c.byName.has(k)) delete out[k];
  // In the body's key order, as class-transformer assigns them.
  for (const k of Object.keys(plain)) {
    const f = c.byName.get(k);
    if (!f) continue;
    let v = plain[k];
    if (v !== null && typeof v === 'object') {
      if (f.nested && isPlainObject(v)) {
        v = build(f.nested, v);
        if (v === undefined) return undefined;
      } else if (!f.nested && Array.isArray(v) && v.every(isPrimitive)) {
        v = v.slice();
      } else {
        return undefined;
      }
    } else if (f.nested && v !== null && v !== undefined) {
      return undefined;
    }
    out[k] = v;
  }
  for (const f of c.fields) {
    const v = out[f.name];
    if (v === null || v === undefined) {
      if (f.optional) continue;
      return undefined;
    }
    for (const check of f.checks) if (!check(v)) return undefined;
  }
  return out;
}
