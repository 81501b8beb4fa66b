// A real OpenID provider (panva's certified `oidc-provider`) for the interop
// test tokens_of_a_real_provider.rs.
//
//   node oidc_provider.mjs <node_modules dir> [port]
//
// Listens on 127.0.0.1 (port 0: any free one), issuer http://127.0.0.1:<port>.
// One confidential client, `zgate-test` / `zgate-test-secret`, may use the
// client_credentials grant. Two resource indicators give JWT access tokens
// for the audience `zowe-gateway`: `urn:zgate:gateway` signed RS256 (RSA key
// `rsa-1`), `urn:zgate:gateway:es256` signed ES256 (P-256 key `ec-1`). The
// tokens' `sub` is `alice@example.com`. Prints `oidc-provider listening
// <port>` once ready, then serves until killed.
import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [modules, portArg = '0'] = process.argv.slice(2);
if (!modules) {
  console.error('usage: node oidc_provider.mjs <node_modules dir> [port]');
  process.exit(2);
}
// ESM imports ignore NODE_PATH: find the package from the given folder.
const entry = createRequire(join(modules, 'noop.js')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(entry).href);

function privateJwk(type, options, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
const keys = [
  privateJwk('rsa', { modulusLength: 2048 }, 'rsa-1', 'RS256'),
  privateJwk('ec', { namedCurve: 'P-256' }, 'ec-1', 'ES256'),
];

const SUBJECT = 'alice@example.com';
const resources = {
  'urn:zgate:gateway': 'RS256',
  'urn:zgate:gateway:es256': 'ES256',
};

function start(port) {
  // Listen first, to learn the port the issuer must name.
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

const server = await start(Number(portArg));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

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
  ],
  jwks: { keys },
  enabledJWA: {
    idTokenSigningAlgValues: ['RS256', 'ES256'],
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => 'urn:zgate:gateway',
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
      // By default a client_credentials token's sub is the client id.
      jwt: async (_ctx, _token, jwt) => {
        jwt.payload.sub = SUBJECT;
      },
    },
  },
});

server.on('request', provider.callback());
process.stdout.write(`oidc-provider listening ${port}\n`);
process.on('SIGTERM', () => process.exit(0));
