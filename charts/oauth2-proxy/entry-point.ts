import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import type { EntrypointConfig } from './schema';
import * as k8s from '../../imports/k8s';
import { standardLabels } from '../common/pod-spec';

/** Props of {@link EntryPoint}. */
export interface EntryPointProps {
  /** The platform-wide settings; `hostname` is what users open. */
  readonly platform: PlatformConfig;
  /** How users reach oauth2-proxy: this decides what is rendered. */
  readonly entrypoint: EntrypointConfig;
  /** Service that receives all external traffic (oauth2-proxy). */
  readonly serviceName: string;
  /** Its port. */
  readonly servicePort: number;
}

/**
 * How users reach the platform: an Ingress with a cert-manager certificate, or a Gateway API
 * HTTPRoute on a shared Gateway, always to oauth2-proxy only. In port-forward mode (dev) nothing
 * is rendered.
 */
export class EntryPoint extends Construct {
  constructor(scope: Construct, id: string, props: EntryPointProps) {
    super(scope, id);
    const { platform } = props;
    const e = props.entrypoint;
    const labels = standardLabels('oauth2-proxy', 'auth-proxy', platform);
    const metadata = { name: props.serviceName, namespace: platform.namespaces.app, labels };
    if (e.mode === 'ingress') {
      if (!e.className || !e.issuer) {
        throw new Error(`entrypoint: mode ingress needs className and issuer (got ${JSON.stringify(e)})`);
      }
      const issuerAnnotation =
        e.issuer.kind === 'ClusterIssuer' ? 'cert-manager.io/cluster-issuer' : 'cert-manager.io/issuer';
      new k8s.KubeIngress(this, 'ingress', {
        metadata: { ...metadata, annotations: { [issuerAnnotation]: e.issuer.name } },
        spec: {
          ingressClassName: e.className,
          tls: [{ hosts: [platform.hostname], secretName: `${props.serviceName}-tls` }],
          rules: [
            {
              host: platform.hostname,
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: props.serviceName, port: { number: props.servicePort } } },
                  },
                ],
              },
            },
          ],
        },
      });
    } else if (e.mode === 'gateway') {
      if (!e.gateway) throw new Error('entrypoint: mode gateway needs gateway (name, namespace)');
      new ApiObject(this, 'route', {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata,
        spec: {
          parentRefs: [
            {
              group: 'gateway.networking.k8s.io',
              kind: 'Gateway',
              name: e.gateway.name,
              namespace: e.gateway.namespace,
              ...(e.gateway.sectionName ? { sectionName: e.gateway.sectionName } : {}),
            },
          ],
          hostnames: [platform.hostname],
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/' } }],
              backendRefs: [
                { group: '', kind: 'Service', name: props.serviceName, port: props.servicePort, weight: 1 },
              ],
            },
          ],
        },
      });
    }
  }
}
