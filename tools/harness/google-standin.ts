/**
 * A stand-in for the Google OAuth 2.0 endpoints that oauth2-proxy's google provider calls, on
 * 127.0.0.1, written from Google's public protocol description (not copied from anywhere):
 *
 *   GET  /o/oauth2/auth          authorization: "signs in" the user chosen with signInAs() and
 *                                redirects to redirect_uri with a one-time code and the state
 *   POST /oauth2/v3/token        token: checks client id/secret, code, redirect_uri and the PKCE
 *                                verifier, returns an access token and an id_token (a JWT signed RS256
 *                                with a throwaway key, claims as Google issues them)
 *   GET  /oauth2/v1/tokeninfo    token validation: 200 for an access token it issued, 400 otherwise
 *
 * Every request is recorded, so a test can also prove which endpoints were (and were not) called.
 * Point oauth2-proxy at it with loginUrl / redeemUrl / validateUrl (the --login-url, --redeem-url,
 * --validate-url flags), in tests only.
 */
import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface GoogleUser {
  readonly email: string;
  /** Google's email_verified claim; true unless a test says otherwise. */
  readonly emailVerified?: boolean;
}

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Form body of POST requests. */
  readonly form: URLSearchParams;
}

export interface GoogleStandIn {
  readonly origin: string;
  readonly loginUrl: string;
  readonly redeemUrl: string;
  readonly validateUrl: string;
  readonly requests: RecordedRequest[];
  /** The user the next authorization request signs in. */
  signInAs(user: GoogleUser): void;
  close(): Promise<void>;
}

interface Grant {
  readonly user: GoogleUser;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly codeChallenge: string;
  readonly codeChallengeMethod: string;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Starts the stand-in. `clientId` and `clientSecret` are the credentials it accepts. */
export async function startGoogleStandIn(opts: { clientId: string; clientSecret: string }): Promise<GoogleStandIn> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(8).toString('hex');
  const codes = new Map<string, Grant>();
  const accessTokens = new Set<string>();
  const requests: RecordedRequest[] = [];
  let nextUser: GoogleUser | undefined;

  const idToken = (user: GoogleUser, audience: string): string => {
    const now = Math.floor(Date.now() / 1000);
    const header = b64url(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' }));
    const payload = b64url(
      JSON.stringify({
        iss: 'https://accounts.google.com',
        aud: audience,
        azp: audience,
        sub: createHash('sha256').update(user.email).digest('hex').slice(0, 21),
        email: user.email,
        email_verified: user.emailVerified ?? true,
        iat: now,
        exp: now + 3600,
      }),
    );
    const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(privateKey);
    return `${header}.${payload}.${b64url(signature)}`;
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((res, rej) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res(body));
      req.on('error', rej);
    });

  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const body = req.method === 'POST' ? await readBody(req) : '';
      const form = new URLSearchParams(body);
      requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, form });
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const q = url.searchParams;

      if (req.method === 'GET' && url.pathname === '/o/oauth2/auth') {
        const redirectUri = q.get('redirect_uri');
        if (q.get('response_type') !== 'code' || !redirectUri || !q.get('client_id') || !q.get('state')) {
          return json(400, { error: 'invalid_request' });
        }
        if (q.get('client_id') !== opts.clientId) return json(401, { error: 'invalid_client' });
        if (!nextUser) return json(500, { error: 'stand-in: call signInAs() first' });
        const code = randomBytes(16).toString('hex');
        codes.set(code, {
          user: nextUser,
          clientId: opts.clientId,
          redirectUri,
          codeChallenge: q.get('code_challenge') ?? '',
          codeChallengeMethod: q.get('code_challenge_method') ?? '',
        });
        const back = new URL(redirectUri);
        back.searchParams.set('code', code);
        back.searchParams.set('state', q.get('state') ?? '');
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }

      if (req.method === 'POST' && url.pathname === '/oauth2/v3/token') {
        if (form.get('client_id') !== opts.clientId || form.get('client_secret') !== opts.clientSecret) {
          return json(401, { error: 'invalid_client' });
        }
        if (form.get('grant_type') !== 'authorization_code') return json(400, { error: 'unsupported_grant_type' });
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!grant || grant.redirectUri !== form.get('redirect_uri')) return json(400, { error: 'invalid_grant' });
        if (grant.codeChallenge) {
          const verifier = form.get('code_verifier') ?? '';
          const expected =
            grant.codeChallengeMethod === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
          if (expected !== grant.codeChallenge) {
            return json(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
          }
        }
        const accessToken = `ya29.${randomBytes(24).toString('base64url')}`;
        accessTokens.add(accessToken);
        return json(200, {
          access_token: accessToken,
          expires_in: 3599,
          token_type: 'Bearer',
          scope:
            'openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile',
          id_token: idToken(grant.user, grant.clientId),
        });
      }

      if (req.method === 'GET' && url.pathname === '/oauth2/v1/tokeninfo') {
        const token = q.get('access_token') ?? '';
        if (!accessTokens.has(token)) return json(400, { error: 'invalid_token' });
        return json(200, { issued_to: opts.clientId, audience: opts.clientId, expires_in: 3500 });
      }

      json(404, { error: 'not_found' });
    })().catch((e: unknown) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });

  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const addr = server.address();
  const origin = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    origin,
    loginUrl: `${origin}/o/oauth2/auth`,
    redeemUrl: `${origin}/oauth2/v3/token`,
    validateUrl: `${origin}/oauth2/v1/tokeninfo`,
    requests,
    signInAs(user) {
      nextUser = user;
    },
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
