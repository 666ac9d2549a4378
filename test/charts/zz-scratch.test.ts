import path from 'node:path';
import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { parseEnvironment } from '../../src/config';
const root = path.resolve(__dirname, '../..');
const text = readFileSync(path.join(root, 'environments/staging.yaml'), 'utf8');
function tryit(label: string, t: string) {
  try { parseEnvironment(t, 'environments/staging.yaml', 'staging', root); console.log(label, 'OK'); }
  catch (e) { console.log(label, e instanceof Error ? e.message : e); }
}
it('dump', () => {
  tryit('enum', text.replace('"1.30"', '"1.29"'));
  tryit('cpu', text.replace('cpu: 500m', 'cpu: 500x'));
  tryit('missingreq', text.replace('hostname: coderun.staging.example.com\n', ''));
  tryit('dest2', text.replace('    name: staging', '    name: staging\n    server: https://x'));
  tryit('dup', text.replace('    replicas: 2\n  middleware', '    replicas: 2\n    replicas: 3\n  middleware'));
  tryit('syntax', text.replace('  app: coderun', '  app: [coderun'));
});
