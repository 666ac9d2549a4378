/**
 * oauth2-proxy, the real binary, against what every environment ships: for each environment the
 * committed dist/<env> Deployment's image, args and env, started with the binary built from
 * tools/go/oauth2-proxy (the version pinned there). Only addresses are rewritten (listen addresses
 * to free 127.0.0.1 ports, the upstream to a local stand-in); secrets get test values. The sign-in
 * flow runs against a local stand-in for Google's OAuth endpoints, pointed to by --login-url,
 * --redeem-url and --validate-url, which only this test adds.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { committedContainers, type CommittedContainer } from '../../../tools/harness/committed-container';
import { startGoogleStandIn, type GoogleStandIn } from '../../../tools/harness/google-standin';
import { freePorts } from '../../../tools/harness/ports';
import { httpGet, start, stopAll, waitFor, type Running } from '../../../tools/harness/process';
import { output, ROOT, tool } from '../../../tools/harness/tools';
import { loadEnvironment } from '../../../apps/environment';
import { startUpstreamStandIn, UPSTREAM_BODY, type UpstreamStandIn } from '../../../tools/harness/upstream-standin';

const GO_MOD = 'tools/go/oauth2-proxy/go.mod';
const IMAGE_REPOSITORY = 'quay.io/oauth2-proxy/oauth2-proxy';
const CLIENT_ID = 'coderun-test.apps.googleusercontent.com';
const CLIENT_SECRET = `test-${randomBytes(12).toString('hex')}`;
/** Test values for the keys of the oauth2-proxy Secret (the cookie secret must be 16, 24 or 32 bytes). */
const SECRET_VALUES: Readonly<Record<string, string>> = {
  'client-id': CLIENT_ID,
  'client-secret': CLIENT_SECRET,
  'cookie-secret': randomBytes(32).toString('base64url'),
};
const BROWSER = { accept: 'text/html,application/xhtml+xml' };

const containers = committedContainers('oauth2-proxy', 'oauth2-proxy');
let binary = '';
let builtVersion = '';

beforeAll(() => {
  binary = tool('oauth2-proxy', 'oauth2-proxy');
  const reported = output(binary, ['--version']);
  const m = /^oauth2-proxy (v\S+)/m.exec(reported);
  if (!m?.[1]) throw new Error(`oauth2-proxy --version printed no version: ${reported}`);
  builtVersion = m[1];
});
afterAll(stopAll);

/** Values of every `--name=value` in args. */
const flagValues = (args: readonly string[], name: string): string[] =>
  args.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));

/** The container's env for the process: plain values as they are, secretKeyRefs from SECRET_VALUES. */
function processEnv(c: CommittedContainer): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
  for (const v of c.envVars) {
    const ref = v.valueFrom?.secretKeyRef;
    if (v.value !== undefined) env[v.name] = v.value;
    else if (ref && SECRET_VALUES[ref.key] !== undefined) env[v.name] = SECRET_VALUES[ref.key];
    else throw new Error(`${c.file}: env ${v.name} needs a test value (secret key '${ref?.key ?? '?'}'); add it here`);
  }
  return env;
}

interface Rewrite {
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly upstream: string;
  /** Replaces the rendered --trusted-proxy-ip list (which must exist) with these. */
  readonly trustedProxyIps?: readonly string[];
}

/** The rendered args with only addresses changed; every other arg stays as committed, in order. */
function rewriteAddresses(c: CommittedContainer, to: Rewrite): string[] {
  const seen = new Set<string>();
  const once = (flag: string, value: string) => {
    if (seen.has(flag)) throw new Error(`${c.file}: --${flag} appears twice`);
    seen.add(flag);
    return `--${flag}=${value}`;
  };
  const out: string[] = [];
  for (const arg of c.args) {
    const flag = /^--([a-z0-9-]+)=/.exec(arg)?.[1];
    if (flag === 'http-address') out.push(once(flag, `127.0.0.1:${to.httpPort}`));
    else if (flag === 'metrics-address') out.push(once(flag, `127.0.0.1:${to.metricsPort}`));
    else if (flag === 'upstream') {
      out.push(once(flag, new URL(new URL(arg.slice('--upstream='.length)).pathname, to.upstream).toString()));
    } else if (flag === 'trusted-proxy-ip' && to.trustedProxyIps) {
      if (!seen.has(flag)) out.push(...to.trustedProxyIps.map((ip) => `--trusted-proxy-ip=${ip}`));
      seen.add(flag);
    } else out.push(arg);
  }
  const needed = ['http-address', 'metrics-address', 'upstream', ...(to.trustedProxyIps ? ['trusted-proxy-ip'] : [])];
  const missing = needed.filter((f) => !seen.has(f));
  if (missing.length > 0) throw new Error(`${c.file}: the args have no ${missing.map((f) => `--${f}`).join(', ')}`);
  return out;
}

interface Proxy {
  readonly proc: Running;
  readonly base: string;
  readonly metrics: string;
  readonly args: readonly string[];
}

/** Starts the real binary with the rewritten args plus `extra`, and waits for /ping. */
async function startProxy(
  name: string,
  c: CommittedContainer,
  upstream: UpstreamStandIn,
  opts: { extra?: readonly string[]; trustedProxyIps?: readonly string[] } = {},
): Promise<Proxy> {
  const [httpPort = 0, metricsPort = 0] = await freePorts(2);
  const args = [
    ...rewriteAddresses(c, { httpPort, metricsPort, upstream: upstream.url, trustedProxyIps: opts.trustedProxyIps }),
    ...(opts.extra ?? []),
  ];
  const proc = start(name, binary, args, { env: processEnv(c) });
  const base = `http://127.0.0.1:${httpPort}`;
  await waitFor(`${name} answering /ping`, async () => (await httpGet(`${base}/ping`)).status === 200, {
    proc,
    from: proc,
    timeoutMs: 120_000,
  });
  return { proc, base, metrics: `http://127.0.0.1:${metricsPort}`, args };
}

/** A cookie jar for one browser: Set-Cookie in, Cookie out. Secure is not enforced (tests use http). */
class Jar {
  readonly cookies = new Map<string, { value: string; attributes: string }>();
  take(headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const attributes = attrs.join(';');
      const expires = /expires=([^;]+)/i.exec(attributes)?.[1];
      const expired =
        /max-age=(0|-\d+)/i.test(attributes) || (expires !== undefined && Date.parse(expires) <= Date.now());
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value: pair.slice(eq + 1), attributes });
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v.value}`).join('; ');
  }
}

/** GET with the jar's cookies, no redirects followed; cookies set by the response go into the jar. */
async function browse(url: string, jar: Jar, headers: Record<string, string> = {}): Promise<Response> {
  const r = await fetch(url, { redirect: 'manual', headers: { ...BROWSER, ...headers, cookie: jar.header() } });
  jar.take(r.headers);
  return r;
}

/**
 * A browser signing in as `email`: the proxy sends it to the stand-in's authorize endpoint, which
 * sends it back to the rendered --redirect-url (public host; the test follows it to the local proxy,
 * keeping the CSRF cookie). Returns the callback's response and the jar.
 */
async function signIn(proxy: Proxy, google: GoogleStandIn, user: { email: string; emailVerified?: boolean }) {
  google.signInAs(user);
  const jar = new Jar();
  const first = await browse(`${proxy.base}/`, jar);
  expect(first.status).toBe(302);
  const authorize = first.headers.get('location') ?? '';
  expect(authorize.startsWith(google.loginUrl)).toBe(true);
  expect(jar.cookies.size).toBeGreaterThan(0); // the CSRF cookie
  const back = await fetch(authorize, { redirect: 'manual' });
  expect(back.status).toBe(302);
  const callback = new URL(back.headers.get('location') ?? '');
  expect(`${callback.origin}${callback.pathname}`).toBe(flagValues(proxy.args, 'redirect-url')[0]);
  const done = await browse(`${proxy.base}${callback.pathname}${callback.search}`, jar);
  return { done, jar, body: await done.text() };
}

/** The application redirect oauth2-proxy put into the OAuth state of a login redirect ("<nonce>:<redirect>"). */
function stateRedirect(location: string): string {
  const state = new URL(location).searchParams.get('state') ?? '';
  return state.slice(state.indexOf(':') + 1);
}

for (const c of containers) {
  const args = c.args;
  const emailDomains = flagValues(args, 'email-domain');
  const trustedProxyIps = flagValues(args, 'trusted-proxy-ip');
  const reverseProxy = flagValues(args, 'reverse-proxy')[0] === 'true';
  // What the environment requires, not what the args say: Secure wherever it serves HTTPS (always in
  // production), as the policy rule session-cookie-flags also holds; the real binary must then set it.
  const envConfig = loadEnvironment(ROOT, c.env);
  const cookieSecure = envConfig.tls || envConfig.tier === 'production';
  const redirectUrl = flagValues(args, 'redirect-url')[0] ?? '';

  describe(`${c.env} (${c.image})`, () => {
    it(`pins the version the suite built and runs (oauth2-proxy --version)`, () => {
      const m = /^(.+):(v[^@:]+)(@sha256:[0-9a-f]{64})?$/.exec(c.image);
      if (!m) throw new Error(`${c.file}: image ${c.image} has no tag, so no version this suite can check`);
      // The upstream repository, or its mirror in the environment's registry (same path).
      const registry = envConfig.registry;
      const repository = registry
        ? `${registry.host}/${IMAGE_REPOSITORY.split('/').slice(1).join('/')}`
        : IMAGE_REPOSITORY;
      expect(m[1], `${c.file}: image repository`).toBe(repository);
      expect(
        m[2],
        `${c.env} pins ${c.image}, but the suite built oauth2-proxy ${builtVersion}: change ${GO_MOD} (and go.sum) ` +
          `to that version, or the environment's services.oauth2-proxy.image.tag to ${builtVersion}`,
      ).toBe(builtVersion);
    });

    describe('the real binary, started with the rendered args', () => {
      let upstream: UpstreamStandIn;
      let google: GoogleStandIn;
      let rendered: Proxy;
      let flow: Proxy;

      beforeAll(async () => {
        upstream = await startUpstreamStandIn();
        google = await startGoogleStandIn({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
        rendered = await startProxy(`oauth2-proxy ${c.env}`, c, upstream);
        flow = await startProxy(`oauth2-proxy ${c.env} (Google stand-in)`, c, upstream, {
          extra: [
            `--login-url=${google.loginUrl}`,
            `--redeem-url=${google.redeemUrl}`,
            `--validate-url=${google.validateUrl}`,
          ],
        });
      });
      afterAll(async () => {
        await Promise.all([rendered?.proc.stop(), flow?.proc.stop()]);
        await Promise.all([upstream?.close(), google?.close()]);
      });

      it('accepts them (only addresses rewritten): /ping and /ready answer 200, /metrics serves', async () => {
        expect(rendered.args).toHaveLength(c.args.length);
        expect(rendered.args.filter((a) => !c.args.includes(a))).toEqual(
          rendered.args.filter((a) => /^--(http-address|metrics-address|upstream)=/.test(a)),
        );
        expect((await httpGet(`${rendered.base}/ping`)).status).toBe(200);
        expect((await httpGet(`${rendered.base}/ready`)).status).toBe(200);
        const metrics = await httpGet(`${rendered.metrics}/metrics`);
        expect(metrics.status).toBe(200);
        expect(metrics.body).toContain('oauth2_proxy_');
        expect(rendered.proc.child.exitCode).toBeNull();
      });

      it(
        reverseProxy && trustedProxyIps.length === 0
          ? 'warns only that --reverse-proxy without --trusted-proxy-ip trusts every caller'
          : 'prints no warning at start-up',
        () => {
          const warnings = rendered.proc
            .log()
            .split('\n')
            .filter((l) => /warn/i.test(l));
          const expected =
            reverseProxy && trustedProxyIps.length === 0 ? [/no --trusted-proxy-ip CIDRs were configured/] : [];
          expect(warnings.length, warnings.join('\n')).toBe(expected.length);
          expected.forEach((re, i) => expect(warnings[i]).toMatch(re));
        },
      );

      it('exits non-zero on an unknown flag (the start-up check has teeth)', async () => {
        const [httpPort = 0, metricsPort = 0] = await freePorts(2);
        const bad = start(
          `oauth2-proxy ${c.env} bogus flag`,
          binary,
          [...rewriteAddresses(c, { httpPort, metricsPort, upstream: upstream.url }), '--no-such-flag=1'],
          { env: processEnv(c) },
        );
        const code = await bad.exited;
        expect(code).not.toBe(0);
        expect(bad.log()).toContain('unknown flag: --no-such-flag');
      });

      it(`redirects an unauthenticated browser (302) to Google's sign-in with redirect_uri ${redirectUrl}`, async () => {
        expect(flagValues(args, 'skip-provider-button')).toEqual(['true']); // straight to Google, no sign-in page
        const jar = new Jar();
        const r = await browse(`${rendered.base}/some/page?x=1`, jar);
        expect(r.status).toBe(302);
        const to = new URL(r.headers.get('location') ?? '');
        expect(`${to.origin}${to.pathname}`).toBe('https://accounts.google.com/o/oauth2/auth');
        const q = to.searchParams;
        expect(q.get('client_id')).toBe(CLIENT_ID);
        expect(q.get('redirect_uri')).toBe(redirectUrl);
        expect(q.get('response_type')).toBe('code');
        expect(q.get('scope')).toBe('profile email');
        expect(q.get('code_challenge_method')).toBe('S256');
        expect(q.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
        expect(stateRedirect(to.toString())).toBe('/some/page?x=1');
        expect([...jar.cookies.keys()]).toEqual(['_oauth2_proxy_csrf']);
        const csrf = jar.cookies.get('_oauth2_proxy_csrf')?.attributes ?? '';
        expect(csrf).toMatch(/HttpOnly/i);
        expect(csrf).toMatch(/SameSite=Lax/i);
        expect(/;\s*Secure/i.test(`;${csrf}`), `${c.env} (tls ${envConfig.tls}, ${envConfig.tier}): Secure`).toBe(
          cookieSecure,
        );
      });

      it('answers 401, not a redirect, to a request that is not a browser page (Accept: application/json)', async () => {
        const r = await httpGet(`${rendered.base}/api/jobs`, { headers: { accept: 'application/json' } });
        expect(r.status).toBe(401);
        expect(upstream.requests.filter((u) => u.url === '/api/jobs')).toEqual([]);
      });

      const allowed = emailDomains.includes('*') ? 'example.org' : (emailDomains[0] ?? '');
      it(`signs in a Google user of an allowed domain (${allowed}) and proxies to the upstream with X-Forwarded-Email`, async () => {
        const email = `ada@${allowed}`;
        const before = google.requests.length;
        const { done, jar } = await signIn(flow, google, { email });
        expect(done.status).toBe(302);
        expect(done.headers.get('location')).toBe('/');
        const session = jar.cookies.get('_oauth2_proxy') ?? jar.cookies.get('_oauth2_proxy_0');
        expect(session, `cookies: ${[...jar.cookies.keys()].join(', ')}`).toBeDefined();
        expect([...jar.cookies.keys()].filter((k) => k.includes('csrf'))).toEqual([]); // cleared by the callback
        const attributes = `;${session?.attributes ?? ''}`;
        expect(/;\s*Secure/i.test(attributes), `${c.env} (tls ${envConfig.tls}, ${envConfig.tier}): Secure`).toBe(
          cookieSecure,
        );
        expect(attributes, 'the session cookie is HttpOnly').toMatch(/;\s*HttpOnly/i);
        expect(attributes, 'the session cookie is SameSite lax or strict').toMatch(/;\s*SameSite=(Lax|Strict)\b/i);

        const page = await browse(`${flow.base}/dashboard`, jar);
        expect(page.status).toBe(200);
        expect(await page.text()).toBe(UPSTREAM_BODY);
        const seen = upstream.requests.at(-1);
        expect(seen?.url).toBe('/dashboard');
        expect(seen?.headers['x-forwarded-email']).toBe(email);

        // What the google provider called: authorize, token (PKCE verified there), tokeninfo; nothing else.
        const calls = google.requests.slice(before).map((r) => `${r.method} ${r.path}`);
        expect(calls).toEqual(['GET /o/oauth2/auth', 'POST /oauth2/v3/token', 'GET /oauth2/v1/tokeninfo']);
        expect(google.requests[before + 1]?.form.get('redirect_uri')).toBe(redirectUrl);
      });

      if (emailDomains.includes('*')) {
        it('lets a user of any other domain in too (--email-domain=*)', async () => {
          const email = `grace@${randomBytes(4).toString('hex')}.example.net`;
          const { done, jar } = await signIn(flow, google, { email });
          expect(done.status).toBe(302);
          const page = await browse(`${flow.base}/`, jar);
          expect(page.status).toBe(200);
          expect(upstream.requests.at(-1)?.headers['x-forwarded-email']).toBe(email);
        });
      } else {
        it(`refuses (403) a user of a domain not in --email-domain (${emailDomains.join(', ')})`, async () => {
          const hits = upstream.requests.length;
          const { done, jar } = await signIn(flow, google, { email: 'mallory@outsider.example.net' });
          expect(done.status).toBe(403);
          expect(jar.cookies.has('_oauth2_proxy')).toBe(false);
          expect(upstream.requests.length).toBe(hits);
        });
      }

      it('refuses a Google account whose e-mail is not verified, and never reaches the upstream', async () => {
        const hits = upstream.requests.length;
        const { done, jar } = await signIn(flow, google, { email: `eve@${allowed}`, emailVerified: false });
        expect(done.status).toBe(500);
        expect(flow.proc.log()).toContain('not listed as verified');
        expect(jar.cookies.has('_oauth2_proxy')).toBe(false);
        expect(upstream.requests.length).toBe(hits);
      });

      if (reverseProxy && trustedProxyIps.length > 0) {
        it(`ignores X-Forwarded-Uri from 127.0.0.1, outside --trusted-proxy-ip ${trustedProxyIps.join(', ')}`, async () => {
          const r = await browse(`${rendered.base}/real/path`, new Jar(), { 'x-forwarded-uri': '/forwarded/path' });
          expect(r.status).toBe(302);
          expect(stateRedirect(r.headers.get('location') ?? '')).toBe('/real/path');
        });

        it('honours X-Forwarded-Uri from an address inside the list (the list rewritten to 127.0.0.1/32)', async () => {
          const trusted = await startProxy(`oauth2-proxy ${c.env} (trusting 127.0.0.1)`, c, upstream, {
            trustedProxyIps: ['127.0.0.1/32'],
          });
          try {
            const r = await browse(`${trusted.base}/real/path`, new Jar(), { 'x-forwarded-uri': '/forwarded/path' });
            expect(r.status).toBe(302);
            expect(stateRedirect(r.headers.get('location') ?? '')).toBe('/forwarded/path');
          } finally {
            await trusted.proc.stop();
          }
        });
      } else if (reverseProxy) {
        it('honours X-Forwarded-Uri from any caller (--reverse-proxy without --trusted-proxy-ip)', async () => {
          const r = await browse(`${rendered.base}/real/path`, new Jar(), { 'x-forwarded-uri': '/forwarded/path' });
          expect(r.status).toBe(302);
          expect(stateRedirect(r.headers.get('location') ?? '')).toBe('/forwarded/path');
        });
      }
    });
  });
}
