/**
 * Identifiers that come from clients (user ids, listing ids) are taken exactly
 * as their columns store and compare them (`utf8mb4_nopad_bin`: byte for byte).
 * At the boundary a value is normalised to NFC, so that the same text typed on
 * two keyboards is one id, and held to a charset: letters, digits, combining
 * marks and `. _ - @ +`. The charset leaves out what makes two ids look alike
 * while comparing different (spaces, control and format characters, variation
 * selectors), and it makes class-validator's `@Length` count what the column
 * counts: code points (its count skips the emoji presentation selectors
 * U+FE0E/U+FE0F, which a VARCHAR counts, so an id of 64 letters each followed
 * by one passed the check and overflowed the column).
 */
import { applyDecorators } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { ValidateBy } from 'class-validator';

/** What an identifier may hold, once normalised to NFC. */
export const IDENTIFIER_CHARSET = /^[\p{L}\p{M}\p{N}._@+-]*$/u;

/** Variation selectors are combining marks too, but invisible: `alice` and `alice` + U+FE0F. */
const VARIATION_SELECTOR = /[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u;

/** Whether an (NFC) value is made only of the identifier charset. */
export function isIdentifierText(value: unknown): value is string {
  return (
    typeof value === 'string' && IDENTIFIER_CHARSET.test(value) && !VARIATION_SELECTOR.test(value)
  );
}

/**
 * A DTO property holding an identifier: normalised to NFC (before any other
 * check runs), then held to {@link IDENTIFIER_CHARSET}. Pair it with
 * `@IsString() @Length(1, n)` for the column's length (and the OpenAPI schema).
 */
export function IsIdentifier(): PropertyDecorator {
  return applyDecorators(
    Transform(({ value }: { value: unknown }) =>
      typeof value === 'string' ? value.normalize('NFC') : value,
    ),
    ValidateBy({
      name: 'isIdentifier',
      validator: {
        validate: (value) => isIdentifierText(value),
        defaultMessage: (args) =>
          `${args?.property ?? 'value'} may hold only letters, digits, combining marks and . _ - @ +`,
      },
    }),
  );
}
