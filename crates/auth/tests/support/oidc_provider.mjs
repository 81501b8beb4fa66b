// A real OpenID provider (panva's certified `oidc-provider` 9.13.3) for
// zgate's tests, driven by crates/auth/tests/support/oidc_provider.rs.
//
//   node oidc_provider.mjs <node_modules dir> [--port P] [--tls CERT_PEM KEY_PEM]
//        [--keys FILE [--rotate [--retire]]] [--subject S]
//
// Listens on 127.0.0.1, port P (default 0: any free one). The issuer is
// http://127.0.0.1:<port>, or with --tls (served with that certificate and
// key) https://localhost:<port>. Prints `oidc-provider listening <port>` on
// stdout once ready, and nothing else there (errors go to stderr); serves
// until killed.
//
// Signing keys, by generation N: RSA-2048 `rsa-N` (RS256) and P-256 `ec-N`
// (ES256). Without --keys, generation 1 lives in memory only. With --keys,
// FILE holds the private keys as a JWKS: generation 1 is generated and
// written if it does not exist; --rotate adds generation N+1, which signs
// from now on while the older ones stay published in the JWKS; --rotate
// --retire also drops every older generation. The file is rewritten (0600).
//
// Clients:
// - `zgate-test` / `zgate-test-secret` (client_secret_basic), the
//   client_credentials grant. Two resource indicators give JWT access tokens
//   for the audience `zowe-gateway`: `urn:zgate:gateway` (the default) signed
//   RS256, `urn:zgate:gateway:es256` signed ES256. Their `sub` is
//   `alice@example.com`, or S with --subject S.
// - `zgate-web` / `zgate-web-secret` (client_secret_basic), the authorization
//   code flow (response type `code`, scopes `openid profile email`), PKCE
//   S256 required. Any https://localhost:<port>/... or
//   https://127.0.0.1:<port>/... redirect URI is accepted. The login form
//   (devInteractions) takes any login and password; the login is the account
//   id, the `sub`. Consent is never asked. With `resource=urn:zgate:gateway`
//   in the authorization request the access token is a JWT (RS256, audience
//   `zowe-gateway`, `sub` the account id); without a resource it is opaque,
//   for the userinfo endpoint (`/me`).
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync, existsSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const USAGE = 'usage: node oidc_provider.mjs <node_modules dir> [--port P] '
  + '[--tls CERT_PEM KEY_PEM] [--keys FILE [--rotate [--retire]]] [--subject S]';

function fail(message) {
  console.error(`oidc_provider.mjs: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseArgs(args) {
  const options = {
    port: 0, tls: undefined, keys: undefined, rotate: false, retire: false,
    subject: 'alice@example.com',
  };
  const [modules, ...rest] = args;
  if (!modules || modules.startsWith('--')) fail('the node_modules folder comes first');
  options.modules = modules;
  const value = (name) => {
    const v = rest.shift();
    if (v === undefined) fail(`${name} needs a value`);
    return v;
  };
  while (rest.length) {
    const arg = rest.shift();
    switch (arg) {
      case '--port': options.port = Number(value(arg)); break;
      case '--tls': options.tls = { cert: value(arg), key: value(arg) }; break;
      case '--keys': options.keys = value(arg); break;
      case '--rotate': options.rotate = true; break;
      case '--retire': options.retire = true; break;
      case '--subject': options.subject = value(arg); break;
      default:
        // The first form of this script took the port as a bare number.
        if (/^\d+$/.test(arg)) options.port = Number(arg);
        else fail(`unknown argument ${arg}`);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    fail('--port takes a port number');
  }
  if (options.rotate && !options.keys) fail('--rotate needs --keys');
  if (options.retire && !options.rotate) fail('--retire goes with --rotate');
  return options;
}

const options = parseArgs(process.argv.slice(2));

// Stdout carries the ready line only: oidc-provider prints its notices with
// console.info (e.g. `default ttl.Session function called`, on a first
// login); they go to stderr with its warnings.
console.info = console.error;
console.log = console.error;

// ESM imports ignore NODE_PATH: find the package from the given folder.
const entry = createRequire(join(options.modules, 'noop.js')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(entry).href);

function privateJwk(type, keyOptions, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, keyOptions);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

function generation(n) {
  return [
    privateJwk('rsa', { modulusLength: 2048 }, `rsa-${n}`, 'RS256'),
    privateJwk('ec', { namedCurve: 'P-256' }, `ec-${n}`, 'ES256'),
  ];
}

const generationOf = (key) => Number(key.kid.split('-').pop());

// The signing keys, newest generation first: oidc-provider signs with the
// first key of its `jwks` that fits the algorithm (KeyStore.selectForSign
// filters in order, then sorts stably by a score every key here ties on).
function signingKeys({ keys: file, rotate, retire }) {
  let keys;
  if (file && existsSync(file)) {
    ({ keys } = JSON.parse(readFileSync(file, 'utf8')));
    if (!Array.isArray(keys) || !keys.length || keys.some((k) => !Number.isInteger(generationOf(k)))) {
      throw new Error(`${file} holds no keys named <type>-<generation>`);
    }
  } else {
    keys = generation(1);
  }
  if (rotate) {
    const next = Math.max(...keys.map(generationOf)) + 1;
    keys = [...generation(next), ...(retire ? [] : keys)];
  }
  keys.sort((a, b) => generationOf(b) - generationOf(a));
  if (file) {
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }
  return keys;
}

const keys = signingKeys(options);

const resources = {
  'urn:zgate:gateway': 'RS256',
  'urn:zgate:gateway:es256': 'ES256',
};
const WEB_CLIENT = 'zgate-web';

// Listen first, to learn the port the issuer must name.
const server = await new Promise((resolve, reject) => {
  const s = options.tls
    ? createHttpsServer({ cert: readFileSync(options.tls.cert), key: readFileSync(options.tls.key) })
    : createHttpServer();
  s.once('error', reject);
  s.listen(options.port, '127.0.0.1', () => resolve(s));
});
const { port } = server.address();
const issuer = options.tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'zgate-test',
      client_secret: 'zgate-test-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: WEB_CLIENT,
      client_secret: 'zgate-web-secret',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      scope: 'openid profile email',
      // A placeholder: redirectUriAllowed below takes any loopback https URI.
      redirect_uris: ['https://localhost/gateway/login/oauth2/code/zgate'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  jwks: { keys },
  // `profile` and `email` are scopes only through the claims they name.
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'ES256'],
  },
  // Any login is an account; its id is the `sub`.
  findAccount: async (_ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub }),
  }),
  // No consent prompt: every authorization request gets a grant of what it
  // asks (its OpenID scopes, and its resource with that server's scopes).
  loadExistingGrant: async (ctx) => {
    const { oidc } = ctx;
    const grant = new oidc.provider.Grant({
      clientId: oidc.client.clientId,
      accountId: oidc.session.accountId,
    });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    for (const [indicator, resourceServer] of Object.entries(oidc.resourceServers)) {
      grant.addResourceScope(indicator, resourceServer.scope);
    }
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // The code flow without `resource` gets an opaque token for userinfo.
      defaultResource: async (_ctx, client) => (
        client?.clientId === WEB_CLIENT ? undefined : 'urn:zgate:gateway'
      ),
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        const alg = resources[indicator];
        if (!alg) throw new Provider.errors.InvalidTarget();
        return {
          scope: 'gateway',
          audience: 'zowe-gateway',
          accessTokenTTL: 600,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg } },
        };
      },
    },
  },
  formats: {
    customizers: {
      // A client_credentials token's sub would be the client id.
      jwt: async (_ctx, token, jwt) => {
        if (token.kind === 'ClientCredentials') jwt.payload.sub = options.subject;
      },
    },
  },
});

// The gateway's port is not known when the provider starts: any https
// loopback redirect URI is registered for the code-flow client.
const { redirectUriAllowed } = provider.Client.prototype;
provider.Client.prototype.redirectUriAllowed = function allowed(uri) {
  if (this.clientId !== WEB_CLIENT) return redirectUriAllowed.call(this, uri);
  const url = URL.parse(uri);
  return url !== null
    && url.protocol === 'https:'
    && ['localhost', '127.0.0.1'].includes(url.hostname)
    && url.hash === '';
};

provider.on('server_error', (_ctx, err) => console.error('server_error', err));
server.on('request', provider.callback());
process.stdout.write(`oidc-provider listening ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
