/**
 * A small, deterministic YAML writer for rendered manifests (JSON data: maps, lists, strings,
 * numbers, booleans, null). Block style, two-space indent, keys sorted, multi-line strings as
 * literal blocks. Any string a YAML 1.1 or 1.2 parser could read as something else (a number,
 * a boolean such as `on` or `yes`, null, a date) or that holds an indicator is double-quoted.
 *
 * It exists for speed: the `yaml` package's stringifier took a quarter of a synth run, and
 * manifests need none of its generality. test/yaml-writer.test.ts round-trips every rendered
 * object through the `yaml` parser in both YAML 1.1 and 1.2 modes.
 */

type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json | undefined };

/** Serialises one document. The result ends with a newline. */
export function toYaml(value: unknown): string {
  const out: string[] = [];
  const v = value as Json;
  if (isMap(v) && Object.keys(v).length > 0) writeMap(v, 0, out);
  else if (Array.isArray(v) && v.length > 0) writeList(v as readonly Json[], 0, out);
  else out.push(scalar(v, 0));
  return `${out.join('\n')}\n`;
}

function isMap(v: Json | undefined): v is { readonly [k: string]: Json | undefined } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmptyCollection(v: Json): boolean {
  return (Array.isArray(v) && v.length === 0) || (isMap(v) && Object.keys(v).length === 0);
}

function sortedEntries(map: { readonly [k: string]: Json | undefined }): [string, Json][] {
  return Object.entries(map)
    .filter((e): e is [string, Json] => e[1] !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function writeMap(
  map: { readonly [k: string]: Json | undefined },
  indent: number,
  out: string[],
  firstPrefix?: string,
): void {
  const pad = ' '.repeat(indent);
  sortedEntries(map).forEach(([key, value], i) => {
    const lead = i === 0 && firstPrefix !== undefined ? firstPrefix : pad;
    const k = `${lead}${string(key)}:`;
    if (isMap(value) && !isEmptyCollection(value)) {
      out.push(k);
      writeMap(value, indent + 2, out);
    } else if (Array.isArray(value) && value.length > 0) {
      out.push(k);
      writeList(value as readonly Json[], indent + 2, out);
    } else {
      out.push(`${k} ${scalar(value, indent + 2)}`);
    }
  });
}

function writeList(list: readonly Json[], indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const item of list) {
    if (isMap(item) && !isEmptyCollection(item)) {
      writeMap(item, indent + 2, out, `${pad}- `);
    } else if (Array.isArray(item) && item.length > 0) {
      out.push(`${pad}-`);
      writeList(item as readonly Json[], indent + 2, out);
    } else {
      out.push(`${pad}- ${scalar(item, indent + 2)}`);
    }
  }
}

function scalar(v: Json, indent: number): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot write the number ${v} to YAML`);
    return String(v);
  }
  if (typeof v === 'string') return v.includes('\n') ? multiline(v, indent) : string(v);
  if (Array.isArray(v)) return '[]';
  return '{}';
}

/** Characters that may not start a plain scalar. '-' is allowed when followed by a non-space. */
const INDICATOR_START = /^[?:,[\]{}#&*!|>'"%@`]/;
/** Anything YAML 1.1 or 1.2 might resolve to a non-string: numbers, booleans, null, dates, times. */
const SPECIAL =
  /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|<<|=)$/;
const NUMBER_LIKE = /^[-+]?(?:[0-9._:eE+-]*|0[xXoObB][0-9a-fA-F_]*)$/;
const TIMESTAMP_LIKE = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ]|$)/;

/** A single-line string: plain when unambiguous, else double-quoted (JSON escapes are valid YAML). */
function string(s: string): string {
  const plain =
    s.length > 0 &&
    /^[\x20-\x7e]+$/.test(s) &&
    !INDICATOR_START.test(s) &&
    !(s.startsWith('-') && (s.length === 1 || s[1] === ' ')) &&
    !s.startsWith(' ') &&
    !s.endsWith(' ') &&
    !s.endsWith(':') &&
    !s.includes(': ') &&
    !s.includes(' #') &&
    !SPECIAL.test(s) &&
    !(/^[-+.0-9]/.test(s) && NUMBER_LIKE.test(s)) &&
    !TIMESTAMP_LIKE.test(s);
  return plain ? s : JSON.stringify(s);
}

/** A multi-line string as a literal block; odd cases fall back to a quoted string. */
function multiline(s: string, indent: number): string {
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  const printable = /^[\x20-\x7e\n\t]*$/.test(s) && !s.includes('\r');
  if (!printable || body.endsWith('\n') || body.startsWith(' ') || body.startsWith('\n')) return JSON.stringify(s);
  const pad = ' '.repeat(indent);
  const lines = body.split('\n').map((l) => (l.length > 0 ? `${pad}${l}` : ''));
  return `${s.endsWith('\n') ? '|' : '|-'}\n${lines.join('\n')}`;
}
