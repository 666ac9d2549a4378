/**
 * Edits an image's tag and digest in an environment file's text, in place: only the value of each
 * key changes (or one line is added beside `repository`), so comments, key order, quoting and every
 * other line stay as written. Used by `npm run pin` and `npm run promote`.
 */
import { isMap, isScalar, LineCounter, parseDocument, type Pair, type Scalar, type YAMLMap } from 'yaml';

/** The new tag and digest of the image at `path` (dotted, e.g. `services.frontend.image`). */
export interface ImageEdit {
  readonly path: string;
  readonly tag?: string;
  readonly digest: string;
}

/** Applies `edits` to environment file `text`; returns the new text (the same text when nothing changes). */
export function editImages(text: string, edits: readonly ImageEdit[]): string {
  let out = text;
  for (const e of edits) out = editImage(out, e);
  return out;
}

function editImage(text: string, e: ImageEdit): string {
  let out = text;
  // One key at a time, parsing again after each edit, so every offset is current. Tag first, so a
  // digest added after it lands on the line below.
  for (const key of ['tag', 'digest'] as const) {
    const value = e[key];
    if (value !== undefined) out = setKey(out, e.path, key, value);
  }
  return out;
}

function setKey(text: string, path: string, key: 'tag' | 'digest', value: string): string {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const node = doc.getIn(path.split('.'), true);
  if (!isMap(node)) throw new Error(`${path}: no image mapping in the environment file`);
  const map = node as YAMLMap<Scalar, Scalar>;
  if (map.flow) throw new Error(`${path}: written as a flow mapping ({...}); write it as a block mapping to edit it`);
  const find = (k: string) =>
    map.items.find((p) => isScalar(p.key) && p.key.value === k) as Pair<Scalar, Scalar> | undefined;
  const pair = find(key);
  if (pair) {
    const v = pair.value;
    if (!isScalar(v) || !v.range) throw new Error(`${path}.${key}: not a plain value`);
    if (String(v.value) === value) return text;
    const [start, end] = v.range;
    return text.slice(0, start) + quoteLike(text.slice(start, end), value) + text.slice(end);
  }
  // A new key goes on its own line after `tag` (for the digest) or `repository`, indented like it.
  const after = (key === 'digest' ? find('tag') : undefined) ?? find('repository');
  const keyRange = after?.key.range;
  const valueRange = after?.value?.range;
  if (!keyRange || !valueRange) throw new Error(`${path}: has no repository`);
  const indent = ' '.repeat(lineCounter.linePos(keyRange[0]).col - 1);
  const eol = text.indexOf('\n', valueRange[1]);
  const at = eol === -1 ? text.length : eol;
  return `${text.slice(0, at)}\n${indent}${key}: ${plainOrQuoted(value)}${text.slice(at)}`;
}

/** `value` in the quoting style of `original` (a quoted tag such as "1.0.0" stays quoted). */
function quoteLike(original: string, value: string): string {
  if (original.startsWith('"')) return JSON.stringify(value);
  if (original.startsWith("'")) return `'${value.replace(/'/g, "''")}'`;
  return plainOrQuoted(value);
}

/** A plain scalar when it reads back as the same string, else double-quoted. */
function plainOrQuoted(value: string): string {
  const back: unknown = parseDocument(`v: ${value}`).toJS();
  return (back as { v?: unknown }).v === value ? value : JSON.stringify(value);
}
