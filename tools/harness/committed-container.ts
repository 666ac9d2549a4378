/**
 * One container as it is committed in dist/<env>/: image, args and env of a workload's container,
 * read from the YAML that ships (not from the generator), for every environment file there is.
 */
import { listEnvironments } from '../../src/model/loader';
import { loadCommitted, ROOT } from '../../test/support/committed';

export interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: { readonly secretKeyRef?: { readonly name: string; readonly key: string } };
}

export interface CommittedContainer {
  readonly env: string;
  /** Repository-relative path of the file it came from, for messages. */
  readonly file: string;
  readonly image: string;
  readonly args: readonly string[];
  readonly envVars: readonly EnvVar[];
}

/** Names of all environments, from environments/*.yaml. */
export const environmentNames = (): string[] => listEnvironments(ROOT);

/**
 * The container `container` of the Deployment `deployment` in every environment, in environment
 * order. Throws naming the environment when one has no such Deployment or container.
 */
export function committedContainers(deployment: string, container: string): CommittedContainer[] {
  const docs = loadCommitted();
  return environmentNames().map((env) => {
    const doc = docs.find(
      (d) =>
        d.env.name === env &&
        d.file.startsWith(`dist/${env}/`) &&
        d.object.kind === 'Deployment' &&
        d.object.metadata.name === deployment,
    );
    if (!doc) throw new Error(`dist/${env}/ has no Deployment ${deployment}; run npm run synth`);
    const spec = doc.object['spec'] as {
      template: { spec: { containers: { name: string; image: string; args?: string[]; env?: EnvVar[] }[] } };
    };
    const c = spec.template.spec.containers.find((x) => x.name === container);
    if (!c) throw new Error(`${doc.file}: Deployment ${deployment} has no container ${container}`);
    return { env, file: doc.file, image: c.image, args: c.args ?? [], envVars: c.env ?? [] };
  });
}
