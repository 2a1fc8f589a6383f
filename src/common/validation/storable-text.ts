import { isEmail, ValidateBy, ValidationOptions } from 'class-validator';

// An unpaired UTF-16 surrogate: jsonb rejects it (500 otherwise) and text columns would store U+FFFD.
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Whether PostgreSQL can store the string verbatim: no NUL (U+0000), no lone surrogate. */
export const isStorableText = (s: string): boolean => !s.includes('\u0000') && !LONE_SURROGATE.test(s);

/** 422 E4006 for strings PostgreSQL cannot store verbatim (non-strings are left to other validators). */
export const IsStorableText = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isStorableText',
      validator: {
        validate: (v: unknown) => typeof v !== 'string' || isStorableText(v),
        defaultMessage: () => '$property must not contain NUL characters or unpaired UTF-16 surrogates',
      },
    },
    options,
  );

/**
 * class-validator's IsEmail, except that a value its parser throws on (a lone surrogate: URIError) is an
 * invalid email rather than an exception.
 */
export const IsEmailAddress = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isEmailAddress',
      validator: {
        validate: (v: unknown) => {
          try {
            return typeof v === 'string' && isStorableText(v) && isEmail(v, { allow_ip_domain: false });
          } catch {
            return false;
          }
        },
        defaultMessage: () => '$property must be a valid email address',
      },
    },
    options,
  );
