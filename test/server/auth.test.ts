/**
 * Only key holders reach the API. A real server on loopback, and requests written byte for byte on
 * a socket (no client normalises the path or merges headers): every protected route, under every
 * spelling a router or proxy might treat as the same path — percent-encoded, doubled slashes, dot
 * segments, a trailing slash, other case, a `;` suffix — is 401 without the key, and served (or a
 * plain 404) with it. Then the header itself: wrong key, empty bearer, another length, another
 * scheme, the header twice. /health stays open; /metrics is open unless protected.
 */
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { buildServer, type AstraeaServer } from '../../lib/server/app.js';

const KEY = 'sk-astraea-test-0123456789';

interface RawResponse {
  status: number;
  body: string;
}

/** One request written as raw bytes on a fresh connection; the status line and body read back. */
function send(port: number, method: string, target: string, headers: [string, string][] = [], body?: object): Promise<RawResponse> {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...headers.map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`);
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? NaN);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
    socket.write(`${lines.join('\r\n')}\r\n\r\n${payload}`);
  });
}

const bearer = (key: string): [string, string] => ['Authorization', `Bearer ${key}`];

/** The protected routes, each with a body that the route would serve. */
const ROUTES: { method: string; path: string; body?: object }[] = [
  { method: 'POST', path: '/v1/chat/completions', body: { model: 'tiny', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0 } },
  { method: 'POST', path: '/v1/completions', body: { model: 'tiny', prompt: 'hi', max_tokens: 2, temperature: 0 } },
  { method: 'GET', path: '/v1/models' },
  { method: 'POST', path: '/v1/jobs/some-job/close' },
];

/** Other spellings of a path: ones the router takes as the same route, and ones it may not. */
function spellings(path: string): string[] {
  const segments = path.split('/').slice(1); // ['v1', 'models']
  const rest = segments.slice(1).join('/');
  return [
    path,
    `/%76${path.slice(2)}`, // %76 = 'v'
    `/v%31/${rest}`, // %31 = '1'
    `/v1/${rest.replace(/^./, (c) => `%${c.charCodeAt(0).toString(16)}`)}`,
    `/${segments.map((s) => [...s].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')).join('/')}`, // every byte encoded
    `/v1%2F${rest}`,
    `//${path.slice(1)}`,
    `/v1//${rest}`,
    `/./${path.slice(1)}`,
    `/v1/./${rest}`,
    `/x/..${path}`,
    `/v1/../v1/${rest}`,
    `${path}/`,
    path.toUpperCase(),
    `/V1/${rest}`,
    `${path};x`,
    `/v1;x/${rest}`,
    `${path}?x=1`,
  ];
}

let server: AstraeaServer;
let engine: Engine;
let port: number;

beforeAll(async () => {
  engine = await Engine.create({ model: 'tiny', kvBlocks: 64 });
  server = buildServer(engine, { modelName: 'tiny', apiKey: KEY });
  await server.app.listen({ port: 0, host: '127.0.0.1' });
  port = (server.app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await server.app.close();
  await engine.close();
});

describe('every spelling of every protected route', () => {
  for (const route of ROUTES) {
    it(`${route.method} ${route.path}: 401 without the key, never 401 with it`, async () => {
      for (const target of spellings(route.path)) {
        const without = await send(port, route.method, target, [], route.body);
        expect({ target, status: without.status }).toEqual({ target, status: 401 });
        expect(JSON.parse(without.body).error.code).toBe('invalid_api_key');
        const withKey = await send(port, route.method, target, [bearer(KEY)], route.body);
        expect({ target, unauthorized: withKey.status === 401 }).toEqual({ target, unauthorized: false });
      }
    });
  }

  it('the canonical spellings are served with the key (close names no open job: 404)', async () => {
    const statuses = await Promise.all(ROUTES.map((r) => send(port, r.method, r.path, [bearer(KEY)], r.body).then((res) => res.status)));
    expect(statuses).toEqual([200, 200, 200, 404]);
  });

  it('the encoded spelling that once bypassed the key is served only with it', async () => {
    const route = ROUTES[0];
    expect((await send(port, 'POST', '/%761/chat/completions', [], route.body)).status).toBe(401);
    expect((await send(port, 'POST', '/%761/chat/completions', [bearer(KEY)], route.body)).status).toBe(200);
  });

  it('HEAD of a protected GET route, and an unknown route, need the key too', async () => {
    expect((await send(port, 'HEAD', '/v1/models')).status).toBe(401);
    expect((await send(port, 'HEAD', '/v1/models', [bearer(KEY)])).status).toBe(200);
    expect((await send(port, 'GET', '/v1/nothing-here')).status).toBe(401);
    expect((await send(port, 'GET', '/v1/nothing-here', [bearer(KEY)])).status).toBe(404);
  });
});

describe('the Authorization header', () => {
  const models = (headers: [string, string][]) => send(port, 'GET', '/v1/models', headers).then((r) => r.status);

  it('refuses a wrong key, one of another length, an empty bearer and other schemes', async () => {
    expect(await models([bearer('sk-astraea-test-0123456788')])).toBe(401); // same length, last byte off
    expect(await models([bearer(KEY.slice(0, -1))])).toBe(401);
    expect(await models([bearer(`${KEY}0`)])).toBe(401);
    expect(await models([bearer('')])).toBe(401);
    expect(await models([['Authorization', 'Bearer']])).toBe(401);
    expect(await models([['Authorization', KEY]])).toBe(401);
    expect(await models([['Authorization', `Basic ${Buffer.from(`user:${KEY}`).toString('base64')}`]])).toBe(401);
    expect(await models([['X-Api-Key', KEY]])).toBe(401);
  });

  it('accepts the scheme in any case and extra spaces before the key', async () => {
    expect(await models([['Authorization', `bearer ${KEY}`]])).toBe(200);
    expect(await models([['authorization', `BEARER   ${KEY}`]])).toBe(200);
  });

  it('refuses the header sent twice, whichever copy holds the key', async () => {
    expect(await models([bearer(KEY), bearer('wrong')])).toBe(401);
    expect(await models([bearer('wrong'), bearer(KEY)])).toBe(401);
    expect(await models([bearer(KEY), ['authorization', `Bearer ${KEY}`]])).toBe(401);
  });
});

describe('the routes that opt out', () => {
  it('/health is open; /metrics is open unless the server protects it', async () => {
    expect((await send(port, 'GET', '/health')).status).toBe(200);
    expect((await send(port, 'GET', '/metrics')).status).toBe(200);
    const guarded = buildServer(engine, { modelName: 'tiny', apiKey: KEY, protectMetrics: true });
    try {
      await guarded.app.listen({ port: 0, host: '127.0.0.1' });
      const guardedPort = (guarded.app.server.address() as AddressInfo).port;
      expect((await send(guardedPort, 'GET', '/metrics')).status).toBe(401);
      expect((await send(guardedPort, 'GET', '/metrics', [bearer(KEY)])).status).toBe(200);
      expect((await send(guardedPort, 'GET', '/health')).status).toBe(200);
    } finally {
      await guarded.app.close();
    }
  });

  it('a server without a key serves everyone, as before', async () => {
    const open = buildServer(engine, { modelName: 'tiny' });
    try {
      expect((await open.app.inject({ method: 'GET', url: '/v1/models' })).statusCode).toBe(200);
    } finally {
      await open.app.close();
    }
  });
});
