/**
 * The manifest YAML writer: everything it writes reads back as exactly the same data, in YAML 1.2
 * and in YAML 1.1 (the dialect of the go-yaml v2 parser behind kubectl and Argo CD).
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { listEnvironments } from '../src/model/loader';
import { loadEnvironment } from '../apps/environment';
import type { Manifest } from '../src/model/objects';
import { argocdObjects, buildPlatform } from '../apps/platform';
import { toYaml } from '../src/model/yaml-writer';
import { ROOT } from './support/committed';

const both = (text: string) => [parse(text, { version: '1.2' }), parse(text, { version: '1.1' })];

const TRICKY = [
  '',
  ' ',
  'yes',
  'no',
  'on',
  'Off',
  'y',
  'N',
  'true',
  'False',
  'null',
  '~',
  '1',
  '1.0',
  '1.0.0',
  '0777',
  '0x1F',
  '0o17',
  '1e3',
  '-1',
  '+1',
  '.5',
  '.inf',
  '-.Inf',
  '.NaN',
  '1_000',
  '12:30',
  '2001-12-14',
  '2001-12-14t21:59:43.10-05:00',
  '<<',
  '=',
  '*',
  '&anchor',
  '!tag',
  '%directive',
  '@at',
  '`tick',
  '|',
  '>',
  '#comment',
  '- item',
  '-',
  '--provider=google',
  '-sl=ldm=/var/run/nats/nats.pid',
  '? key',
  ': value',
  'a: b',
  'a:b',
  'trailing:',
  'a #b',
  'a#b',
  'x ',
  '[list]',
  '{map}',
  "it's",
  '"quoted"',
  "has(object.spec.x) && 'a' in object.metadata.labels",
  '!has(object.spec.ephemeralContainers) || size(object.spec.ephemeralContainers) == 0',
  'A NATS server ({{ $labels.pod }}) is down.',
  'café',
  'tab\there',
  'line\r\nbreak',
  'one\n',
  'one\ntwo',
  'one\ntwo\n',
  'one\n\ntwo\n',
  'one\ntwo\n\n',
  '  indented\nblock\n',
  '\nleading newline',
  'trailing spaces  \nline\n',
  'server_name: $SERVER_NAME\njetstream {\n  max_file_store: 1\n}\n',
];

describe('toYaml', () => {
  it.each(TRICKY)('round-trips the string %j as a value and as a key, in YAML 1.1 and 1.2', (s) => {
    const doc = { [s]: s, list: [s, { k: s }] };
    for (const back of both(toYaml(doc))) expect(back).toEqual(doc);
  });

  it.each([0, 1, -1, 1.5, 1e21, 65535])('round-trips the number %s', (n) => {
    for (const back of both(toYaml({ n, l: [n] }))) expect(back).toEqual({ n, l: [n] });
  });

  it('writes booleans, null, empty collections and nested lists', () => {
    const doc = {
      t: true,
      f: false,
      z: null,
      e: {},
      a: [],
      nested: [[1, [2]], [], {}],
      deep: { x: { y: [{ a: 1, b: [] }] } },
    };
    for (const back of both(toYaml(doc))) expect(back).toEqual(doc);
  });

  it('sorts keys and writes block style with two-space indents', () => {
    expect(toYaml({ b: 1, a: { d: [1, { f: 2, e: 3 }], c: 'x' } })).toBe(
      ['a:', '  c: x', '  d:', '    - 1', '    - e: 3', '      f: 2', 'b: 1', ''].join('\n'),
    );
  });

  it('writes multi-line strings as literal blocks', () => {
    expect(toYaml({ conf: 'a\n  b\n' })).toBe('conf: |\n  a\n    b\n');
    expect(toYaml({ conf: 'a\nb' })).toBe('conf: |-\n  a\n  b\n');
  });

  it('quotes what a YAML 1.1 parser would read as a boolean or number', () => {
    expect(toYaml({ v: 'on', w: '1.0', x: '0777', y: 'yes' })).toBe('v: "on"\nw: "1.0"\nx: "0777"\n"y": "yes"\n');
  });

  it('fails on numbers YAML cannot hold', () => {
    expect(() => toYaml({ n: Number.NaN })).toThrow(/cannot write the number NaN/);
    expect(() => toYaml({ n: Number.POSITIVE_INFINITY })).toThrow(/Infinity/);
  });

  it('round-trips every object the generator renders, for every environment', () => {
    let count = 0;
    for (const name of listEnvironments(ROOT)) {
      const env = loadEnvironment(ROOT, name);
      const objects: Manifest[] = buildPlatform(env).charts.flatMap((c) => c.toJson() as Manifest[]);
      for (const o of [...objects, ...argocdObjects(env, objects)]) {
        for (const back of both(toYaml(o))) expect(back).toEqual(o);
        count++;
      }
    }
    expect(count).toBeGreaterThan(100);
  });
});
