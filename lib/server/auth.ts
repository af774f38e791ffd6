/**
 * API-key authentication, checked on the route the router matched — never on the raw URL. The
 * router decodes percent-escapes before matching (`/%761/models` is `/v1/models`), so a check on
 * the URL's spelling can be walked around; a hook attached to each route cannot, whatever
 * spelling reached it. Every route is protected unless it opts out with `config: { public: true }`
 * (`/health`; `/metrics` unless `protectMetrics`), so a route added later is protected by
 * default. A URL that matches no route needs the key too: without it, nothing tells a caller
 * which routes exist.
 *
 * The key is compared in constant time: SHA-256 digests of the expected and the sent key (equal
 * length whatever was sent) through `crypto.timingSafeEqual`. A request with more than one
 * Authorization header is refused (Node keeps the first, a proxy might forward the last).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, RouteOptions } from 'fastify';
import { HttpError } from './errors.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Served without the API key. */
    public?: boolean;
  }
}

function digest(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

function unauthorized(message: string): HttpError {
  return new HttpError(401, message, 'invalid_request_error', 'invalid_api_key');
}

function authorizationHeaders(request: FastifyRequest): number {
  const raw = request.raw.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === 'authorization') count++;
  return count;
}

/** A check that throws a 401 unless the request carries exactly one `Authorization: Bearer <apiKey>`. */
export function apiKeyCheck(apiKey: string): (request: FastifyRequest) => void {
  if (apiKey.length === 0) throw new Error('the API key must not be empty');
  const expected = digest(apiKey);
  return (request) => {
    if (authorizationHeaders(request) > 1) throw unauthorized('send one Authorization header, not several');
    const header = request.headers.authorization;
    // RFC 9110: the scheme is case-insensitive; one or more spaces before the token.
    const token = header === undefined ? null : /^bearer +(.+)$/i.exec(header)?.[1] ?? null;
    if (token === null) throw unauthorized(header ? 'the Authorization header must be Bearer <key>' : 'missing API key: send Authorization: Bearer <key>');
    if (!timingSafeEqual(digest(token), expected)) throw unauthorized('incorrect API key');
  };
}

/**
 * Protects every route registered after this call, and the not-found handler, with the key.
 * Call it before any route is registered.
 */
export function protectRoutes(app: FastifyInstance, apiKey: string): { notFoundPreHandler: onRequestHookHandler } {
  const check = apiKeyCheck(apiKey);
  const hook: onRequestHookHandler = async (request) => check(request);
  app.addHook('onRoute', (route: RouteOptions) => {
    if (route.config?.public === true) return;
    const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
    route.onRequest = [hook, ...existing];
  });
  return { notFoundPreHandler: hook };
}
