/**
 * YAML as `kubectl kustomize` prints it (kustomize v5 writes through go-yaml v3, whose
 * emitter is libyaml's): keys sorted, sequences not indented under their key, a string
 * plain when it can be, in double quotes when plain it would read as another type
 * (numbers, booleans, null, timestamps, YAML 1.1's yes/no/on/off), in single quotes when
 * an indicator forbids plain, as a literal block when it spans lines; plain and
 * single-quoted strings folded at spaces past column 80.
 *
 * Only what stayline's manifests need: a string the emitter would print in a form this
 * file does not reproduce (tabs or other control characters, a literal block starting
 * with a space or ending in blank lines, a long double-quoted string) is refused, so the
 * renderer never prints something kubectl would print differently.
 */

const BEST_WIDTH = 80;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One YAML document (no `---`), ending with a newline. */
export function toYaml(value: Json): string {
  if (value === null || typeof value !== 'object')
    throw new Error('a document is a mapping or a sequence');
  const out = new Output();
  if (Array.isArray(value)) sequence(out, value, 0);
  else mapping(out, value, 0, false);
  return out.text();
}

class Output {
  private readonly lines: string[] = [''];

  get column(): number {
    return this.lines[this.lines.length - 1].length;
  }

  write(s: string): void {
    this.lines[this.lines.length - 1] += s;
  }

  newline(indent: number): void {
    this.lines.push(' '.repeat(indent));
  }

  /** A new line at `indent`, or the first line of the document. */
  startLine(indent: number): void {
    if (this.lines.length === 1 && this.lines[0] === '') this.write(' '.repeat(indent));
    else this.newline(indent);
  }

  /** A line break with nothing after it (an empty line inside a literal block). */
  emptyLine(): void {
    this.lines[this.lines.length - 1] = this.lines[this.lines.length - 1].trimEnd();
    this.lines.push('');
  }

  text(): string {
    return this.lines.join('\n').replace(/\n?$/, '\n');
  }
}

const isMap = (v: Json): v is { [key: string]: Json } =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** Byte order, as Go sorts map keys (every key here is ASCII). */
const sortedKeys = (m: Record<string, Json>) =>
  Object.keys(m).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

/** A mapping at `indent`; `inline`: its first key goes where the output stands (after `- `). */
function mapping(out: Output, m: { [key: string]: Json }, indent: number, inline: boolean): void {
  sortedKeys(m).forEach((key, i) => {
    if (!inline || i > 0) out.startLine(indent);
    out.write(`${scalar(key, { key: true })}:`);
    const v = m[key];
    if (Array.isArray(v) && v.length) sequence(out, v, indent);
    else if (isMap(v) && Object.keys(v).length) mapping(out, v, indent + 2, false);
    else {
      out.write(' ');
      value(out, v, indent + 2);
    }
  });
}

/** A block sequence of `- item` lines at `indent` (go-yaml does not indent it under its key). */
function sequence(out: Output, items: Json[], indent: number): void {
  for (const item of items) {
    out.startLine(indent);
    out.write('- ');
    if (isMap(item) && Object.keys(item).length) mapping(out, item, indent + 2, true);
    else if (Array.isArray(item) && item.length)
      throw new Error('a sequence directly inside a sequence is not supported');
    else value(out, item, indent + 2);
  }
}

/** A value on the current line: an empty collection, a scalar, or a literal block. */
function value(out: Output, v: Json, indent: number): void {
  if (Array.isArray(v)) return out.write('[]');
  if (isMap(v)) return out.write('{}');
  if (typeof v !== 'string') return out.write(scalar(v, { key: false }));
  const style = stringStyle(v, false);
  if (style === 'literal') return literal(out, v, indent);
  if (style === 'double') {
    const text = JSON.stringify(v);
    if (out.column + text.length > BEST_WIDTH && v.includes(' '))
      throw new Error(`a long double-quoted string would be folded: ${text}`);
    return out.write(text);
  }
  folded(out, v, indent, style);
}

/** A plain or single-quoted string, broken at a space once past the best width (libyaml's rule). */
function folded(out: Output, s: string, indent: number, style: 'plain' | 'single'): void {
  const quote = style === 'single';
  if (quote) out.write("'");
  let previousSpace = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === ' ') {
      const inner = !quote || (i !== 0 && i !== s.length - 1);
      if (inner && !previousSpace && out.column > BEST_WIDTH && s[i + 1] !== ' ')
        out.newline(indent);
      else out.write(' ');
      previousSpace = true;
    } else {
      out.write(quote && ch === "'" ? "''" : ch);
      previousSpace = false;
    }
  }
  if (quote) out.write("'");
}

function literal(out: Output, s: string, indent: number): void {
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  out.write(s.endsWith('\n') ? '|' : '|-');
  for (const line of body.split('\n')) {
    if (line) {
      out.newline(indent);
      out.write(line);
    } else out.emptyLine();
  }
}

/** A key, a number, a boolean or null; strings that need a literal block are refused. */
function scalar(v: Json, o: { key: boolean }): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`not a finite number: ${v}`);
    return String(v);
  }
  if (typeof v !== 'string') throw new Error('a collection is not a scalar');
  const style = stringStyle(v, o.key);
  if (style === 'plain') return v;
  if (style === 'single') return `'${v.replaceAll("'", "''")}'`;
  if (style === 'double') return JSON.stringify(v);
  throw new Error(`a key cannot span lines: ${JSON.stringify(v)}`);
}

type Style = 'plain' | 'single' | 'double' | 'literal';

/** go-yaml v3's choice of style for a string, then libyaml's downgrade when the text forbids it. */
export function stringStyle(s: string, key: boolean): Style {
  const a = analyse(s);
  if (a.special) throw new Error(`unsupported character in ${JSON.stringify(s)}`);
  if (s.includes('\n')) {
    if (key) return 'double';
    if (!a.blockAllowed || /^[ \n]/.test(s) || s.endsWith('\n\n') || s.includes(' \n'))
      throw new Error(`a literal block kubectl would print another way: ${JSON.stringify(s)}`);
    return 'literal';
  }
  if (readsAsAnotherType(s) || OLD_BOOLS.has(s) || BASE_60_FLOAT.test(s)) return 'double';
  if (a.blockPlainAllowed) return 'plain';
  return a.singleAllowed ? 'single' : 'double';
}

/** YAML 1.1 booleans, which go-yaml v3 quotes so that older readers keep them strings. */
const OLD_BOOLS = new Set(
  'y Y yes Yes YES n N no No NO on On ON off Off OFF'.split(' ').filter(Boolean),
);
const BASE_60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const SPECIAL_WORDS = new Set([
  '',
  '~',
  'null',
  'Null',
  'NULL',
  'true',
  'True',
  'TRUE',
  'false',
  'False',
  'FALSE',
  '.inf',
  '.Inf',
  '.INF',
  '+.inf',
  '+.Inf',
  '+.INF',
  '-.inf',
  '-.Inf',
  '-.INF',
  '.nan',
  '.NaN',
  '.NAN',
  '<<',
]);
const YAML_FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;
const GO_INT = /^[-+]?(?:0[bB][01]+|0[oO]?[0-7]+|0[xX][0-9a-fA-F]+|[0-9]+)$/;
const TIMESTAMP = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?$/;

/** Whether go-yaml v3 would resolve the plain scalar to something other than a string. */
function readsAsAnotherType(s: string): boolean {
  if (SPECIAL_WORDS.has(s)) return true;
  const first = s[0];
  if (first === '.') return YAML_FLOAT.test(s);
  if (!/[-+0-9]/.test(first)) return false;
  const plain = s.replaceAll('_', '');
  return TIMESTAMP.test(s) || GO_INT.test(plain) || YAML_FLOAT.test(plain);
}

interface Analysis {
  blockPlainAllowed: boolean;
  singleAllowed: boolean;
  blockAllowed: boolean;
  special: boolean;
}

const FIRST_INDICATORS = '#,[]{}&*!|>\'"%@`';
const printable = (c: string) =>
  c === '\n' ||
  (c >= ' ' && c <= '~') ||
  (c.charCodeAt(0) >= 0xa0 && c.charCodeAt(0) !== 0xfeff && !/[\ud800-\udfff]/.test(c));

/** libyaml's yaml_emitter_analyze_scalar, for the block context. */
function analyse(s: string): Analysis {
  if (!s)
    return { blockPlainAllowed: false, singleAllowed: true, blockAllowed: false, special: false };
  let blockIndicators = s.startsWith('---') || s.startsWith('...');
  let special = false;
  let lineBreaks = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  let precededByWhitespace = true;
  const blank = (c: string | undefined) => c === undefined || c === ' ' || c === '\n';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    const followedByWhitespace = blank(s[i + 1]);
    const first = i === 0;
    const last = i === s.length - 1;
    if (first) {
      if (FIRST_INDICATORS.includes(c)) blockIndicators = true;
      if ((c === '?' || c === ':') && followedByWhitespace) blockIndicators = true;
      if (c === '-' && followedByWhitespace) blockIndicators = true;
    } else {
      if (c === ':' && followedByWhitespace) blockIndicators = true;
      if (c === '#' && precededByWhitespace) blockIndicators = true;
    }
    if (!printable(c)) special = true;
    if (c === '\n') lineBreaks = true;
    if (c === ' ') {
      if (first) leadingSpace = true;
      if (last) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (c === '\n') {
      if (first) leadingBreak = true;
      if (last) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousBreak = true;
      previousSpace = false;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = blank(c);
  }
  let blockPlainAllowed = true;
  let singleAllowed = true;
  let blockAllowed = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlainAllowed = false;
  if (trailingSpace) blockAllowed = false;
  if (breakSpace) blockPlainAllowed = singleAllowed = false;
  if (spaceBreak || special) blockPlainAllowed = singleAllowed = blockAllowed = false;
  if (lineBreaks || blockIndicators) blockPlainAllowed = false;
  return { blockPlainAllowed, singleAllowed, blockAllowed, special };
}
