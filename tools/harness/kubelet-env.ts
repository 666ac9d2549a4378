/**
 * The environment a container gets from the kubelet, computed from a committed container spec:
 * literal values, secretKeyRef (from test values), fieldRef metadata.name, and `$(VAR)` expansion
 * of earlier variables (an undefined reference stays as written; `$$` escapes a `$`). Expanded
 * values are not expanded again, as in the kubelet.
 */
export interface EnvVarSpec {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly secretKeyRef?: { readonly name: string; readonly key: string };
    readonly fieldRef?: { readonly fieldPath: string };
  };
}

/** Secret values for the test: secret name -> key -> value. */
export type SecretValues = Readonly<Record<string, Readonly<Record<string, string>>>>;

/** Expands `$(NAME)` references against `vars`, the way the kubelet does. */
export function expand(template: string, vars: Readonly<Record<string, string>>): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i];
    if (c === '$' && template[i + 1] === '$') {
      out += '$';
      i++;
    } else if (c === '$' && template[i + 1] === '(') {
      const end = template.indexOf(')', i + 2);
      const name = end < 0 ? undefined : template.slice(i + 2, end);
      if (name !== undefined && Object.prototype.hasOwnProperty.call(vars, name)) {
        out += vars[name];
        i = end;
      } else out += c;
    } else out += c;
  }
  return out;
}

/** The container's environment, resolved. Throws naming a Secret key the test did not provide. */
export function containerEnv(
  env: readonly EnvVarSpec[] | undefined,
  opts: { secrets: SecretValues; podName: string },
): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const e of env ?? []) {
    if (e.value !== undefined) vars[e.name] = expand(e.value, vars);
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const v = opts.secrets[name]?.[key];
      if (v === undefined) throw new Error(`env ${e.name}: the test has no value for Secret ${name} key ${key}`);
      vars[e.name] = v;
    } else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') vars[e.name] = opts.podName;
    else throw new Error(`env ${e.name}: unsupported source ${JSON.stringify(e.valueFrom)}`);
  }
  return vars;
}
