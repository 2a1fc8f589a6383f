import { ValidateBy, ValidationOptions } from 'class-validator';

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
