// A local OpenID Connect provider for sitrep's sign-in tests, built on oidc-provider 8 (which
// runs on Node 20). It is a real provider: discovery, JWKS, the code flow with PKCE (S256),
// `max_age` and `acr_values`, signed ID tokens. What it adds for tests:
//
// - fixed accounts (below) with one password and an optional one-time code: a sign-in with the
//   code reports `amr: ["pwd","otp"]` and `acr: "urn:sitrep:mfa"`, without it `amr: ["pwd"]`
//   and `acr: "urn:sitrep:pwd"`;
// - `groups`, `preferred_username` and `name` in the ID token;
// - a plain login form (ids `username`, `password`, `otp`, `submit`) and automatic consent;
// - `POST /__rotate`: a new signing key goes first in the JWKS and signs from then on (the old
//   keys stay published), so a relying party's key-rotation path can be tested.
//
// Usage: node provider.mjs --port P --client-id ID --client-secret S --redirect-uri URI
//        node provider.mjs CONFIG.json   ({"port", "clients": [{client_id, client_secret,
//                                           redirect_uris}]})
// Prints `ready http://127.0.0.1:P` on stdout once it listens.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import Provider from 'oidc-provider';

const PASSWORD = 'correct horse battery staple';
const OTP = '123456';

/** The test accounts: their user names, display names and groups. */
const ACCOUNTS = {
  alice: { name: 'Alice Admin', groups: ['sitrep-admins', 'staff'] },
  lee: { name: 'Lee Legal', groups: ['sitrep-legal', 'staff'] },
  mo: { name: 'Mo Member', groups: ['sitrep-members'] },
  ghost: { name: 'Ghost Unmapped', groups: ['contractors'] },
  'bad name!': { name: 'Not A User Name', groups: ['sitrep-members'] },
};

function parseArgs(argv) {
  if (argv.length === 1 && !argv[0].startsWith('--')) {
    return JSON.parse(readFileSync(argv[0], 'utf8'));
  }
  const options = { clients: [] };
  const client = {};
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    switch (flag) {
      case '--port': options.port = Number(value); break;
      case '--client-id': client.client_id = value; break;
      case '--client-secret': client.client_secret = value; break;
      case '--redirect-uri': (client.redirect_uris ??= []).push(value); break;
      default: throw new Error(`unknown option ${flag}`);
    }
  }
  if (client.client_id) options.clients.push(client);
  return options;
}

const options = parseArgs(process.argv.slice(2));
if (!Number.isInteger(options.port) || options.clients.length === 0) {
  console.error('usage: node provider.mjs --port P --client-id ID --client-secret S --redirect-uri URI');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${options.port}`;

let keyCount = 0;
function newKey() {
  keyCount += 1;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `key-${keyCount}-${randomBytes(4).toString('hex')}`, use: 'sig', alg: 'RS256' };
}

let keys = [newKey()];
const cookieKeys = [randomBytes(32).toString('hex')];

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test provider · sign in</title></head>
<body><main><h1>Test provider</h1>${error ? `<p role="alert" id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>User name <input id="username" name="username" autocomplete="username" required></label>
<label>Password <input id="password" name="password" type="password" required></label>
<label>One-time code (optional) <input id="otp" name="otp" inputmode="numeric"></label>
<button id="submit" type="submit">Sign in</button>
</form></main></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function build() {
  const provider = new Provider(issuer, {
    clients: options.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
    })),
    jwks: { keys },
    cookies: { keys: cookieKeys },
    pkce: { methods: ['S256'], required: () => true },
    acrValues: ['urn:sitrep:pwd', 'urn:sitrep:mfa'],
    claims: {
      openid: ['sub', 'acr', 'amr', 'auth_time'],
      profile: ['name', 'preferred_username', 'groups'],
    },
    // Put the profile claims in the ID token itself, as most enterprise providers do.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = ACCOUNTS[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, name: account.name, preferred_username: id, groups: account.groups };
        },
      };
    },
    renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = `<!doctype html><html><body><h1>Provider error</h1><pre id="error">${escape(JSON.stringify(out))}</pre></body></html>`;
    },
  });
  provider.proxy = false;

  provider.use(async (ctx, next) => {
    const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
    if (!match) return next();
    const [, uid, login] = match;
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
    if (ctx.method === 'GET' && details.prompt.name === 'login') {
      ctx.type = 'html';
      ctx.body = loginPage(uid);
      return undefined;
    }
    if (ctx.method === 'GET' && details.prompt.name === 'consent') {
      // Consent is automatic: every client here is the test's own.
      const { prompt: { details: missing }, params, session } = details;
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      const grantId = await grant.save();
      const to = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      ctx.redirect(to);
      return undefined;
    }
    if (ctx.method === 'POST' && login) {
      const form = await readForm(ctx.req);
      const username = form.get('username') ?? '';
      const otp = (form.get('otp') ?? '').trim();
      if (!ACCOUNTS[username] || form.get('password') !== PASSWORD || (otp !== '' && otp !== OTP)) {
        ctx.status = 401;
        ctx.type = 'html';
        ctx.body = loginPage(uid, 'Wrong user name, password or code.');
        return undefined;
      }
      const mfa = otp === OTP;
      const result = {
        login: {
          accountId: username,
          acr: mfa ? 'urn:sitrep:mfa' : 'urn:sitrep:pwd',
          amr: mfa ? ['pwd', 'otp'] : ['pwd'],
          remember: false,
        },
      };
      const to = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
      ctx.redirect(to);
      return undefined;
    }
    ctx.throw(400, 'unexpected interaction step');
    return undefined;
  });
  return provider;
}

let current = build();
let handler = current.callback();

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/__rotate') {
    // A new key signs from now on; the old ones stay in the JWKS, after it.
    keys = [newKey(), ...keys];
    current = build();
    handler = current.callback();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
    return;
  }
  handler(req, res);
});

server.listen(options.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
