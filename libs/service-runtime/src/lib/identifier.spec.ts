import { plainToInstance } from 'class-transformer';
import { IsString, Length, length, validateSync } from 'class-validator';
import { IsIdentifier, isIdentifierText } from './identifier';

class UserDto {
  @IsString() @Length(1, 64) @IsIdentifier() userId!: string;
}

const check = (userId: unknown) => {
  const dto = plainToInstance(UserDto, { userId });
  return { dto, errors: validateSync(dto).flatMap((e) => Object.values(e.constraints ?? {})) };
};

describe('IsIdentifier', () => {
  it('normalises to NFC before checking: one id, however it was typed', () => {
    const { dto, errors } = check('jose\u0301');
    expect(errors).toEqual([]);
    expect(dto.userId).toBe('jos\u00e9');
  });

  it.each([
    ['alice'],
    ['user-7'],
    ['a.b_c+d@example.com'],
    ['김민준'],
    ['\u{1D49C}'.repeat(64)], // 64 letters outside the BMP: 64 code points, 128 UTF-16 units
  ])('accepts %s', (id) => {
    expect(check(id).errors).toEqual([]);
  });

  it.each([
    ['alice ', 'a trailing space'],
    ['al ice', 'a space'],
    ['alice\u200b', 'a zero-width space (format)'],
    ['alice\u0007', 'a control character'],
    ['alice\ufe0f', 'a variation selector'],
    ['alice\u{E0100}', 'a supplementary variation selector'],
    ['a/b', 'a slash'],
    ['<script>', 'markup'],
  ])('refuses %j (%s)', (id) => {
    expect(check(id).errors).toEqual([
      'userId may hold only letters, digits, combining marks and . _ - @ +',
    ]);
  });

  it('refuses the id that overflowed its column: 64 letters each with a selector', () => {
    const id = 'a\ufe0f'.repeat(64);
    // class-validator alone counts 64 (it skips U+FE0F); a VARCHAR(64) counts 128
    expect(length(id, 1, 64)).toBe(true);
    expect(check(id).errors).not.toEqual([]);
  });

  it('makes @Length count code points, what a utf8mb4 VARCHAR counts, for every id it accepts', () => {
    const samples = [
      'a'.repeat(64),
      'a'.repeat(65),
      '\u{1D49C}'.repeat(64),
      '\u{1D49C}'.repeat(65),
      'e\u0301'.repeat(32),
      'e\u0301'.repeat(33),
      '한'.repeat(64),
      '😀'.repeat(3),
    ];
    for (const raw of samples) {
      const id = raw.normalize('NFC');
      if (!isIdentifierText(id)) continue;
      expect({ id, ok: length(id, 1, 64) }).toEqual({ id, ok: [...id].length <= 64 });
    }
  });

  it('refuses anything but a string', () => {
    expect(check(42).errors.length).toBeGreaterThan(0);
    expect(check(['alice']).errors.length).toBeGreaterThan(0);
  });
});
