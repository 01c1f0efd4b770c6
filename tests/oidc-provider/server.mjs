// The OpenID Provider of the integration tests: panva's oidc-provider on
// loopback, with its development interactions (any login name signs in).
//
//   node server.mjs PORT          clients as JSON in OIDC_TEST_CLIENTS
//
// A login name is the `sub`; its email is SUB@example.com, verified, unless
// a test said otherwise first (POST /test/profile).
// Test-only hooks (this provider never runs anywhere but a test):
//   POST /test/profile?sub=S&email=E&verified=true|false
//   POST /test/tamper?what=aud|azp|key|none   the next ID tokens are re-signed
//        for another audience, with another authorized party, or by a key
//        the JWKS does not have
//   GET  /test/jwks-hits                  how often the JWKS was fetched
// Prints "ready" once it listens.
import Provider from 'oidc-provider';
import * as jose from 'jose';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: node server.mjs PORT (clients in OIDC_TEST_CLIENTS)');
  process.exit(2);
}
const clients = JSON.parse(process.env.OIDC_TEST_CLIENTS || '[]');
const issuer = `http://127.0.0.1:${port}`;

const signing = await jose.generateKeyPair('RS256', { extractable: true });
const signingJwk = { ...(await jose.exportJWK(signing.privateKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
const stranger = await jose.generateKeyPair('RS256');

const profiles = new Map();

function account(sub) {
  const profile = profiles.get(sub) || { email: `${sub}@example.com`, verified: true };
  return {
    accountId: sub,
    claims: () => ({
      sub,
      email: profile.email,
      email_verified: profile.verified,
      name: sub,
    }),
  };
}

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  findAccount: (ctx, id) => account(id),
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // Claims in the ID token itself, as most providers do.
  conformIdTokenClaims: false,
  cookies: { keys: ['test-only-cookie-key'] },
  features: { devInteractions: { enabled: true } },
  pkce: { required: () => true },
});

let tamper = 'none';
let jwksHits = 0;
provider.use(async (ctx, next) => {
  if (ctx.path === '/test/tamper' && ctx.method === 'POST') {
    tamper = ctx.query.what || 'none';
    ctx.body = { tamper };
    return;
  }
  if (ctx.path === '/test/profile' && ctx.method === 'POST') {
    const { sub, email, verified } = ctx.query;
    profiles.set(sub, { email, verified: verified !== 'false' });
    ctx.body = { sub };
    return;
  }
  if (ctx.path === '/test/jwks-hits') {
    ctx.body = { hits: jwksHits };
    return;
  }
  if (ctx.path === '/jwks') jwksHits += 1;
  await next();
  if (ctx.path === '/token' && tamper !== 'none' && ctx.body && ctx.body.id_token) {
    const claims = jose.decodeJwt(ctx.body.id_token);
    let key = signing.privateKey;
    let kid = signingJwk.kid;
    if (tamper === 'aud') {
      claims.aud = 'another-client';
      delete claims.azp;
    } else if (tamper === 'azp') {
      claims.aud = [claims.aud, 'another-client'];
      claims.azp = 'another-client';
    } else if (tamper === 'key') {
      key = stranger.privateKey;
      kid = 'a-key-nobody-published';
    }
    ctx.body = {
      ...ctx.body,
      id_token: await new jose.SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(key),
    };
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log('ready');
});
