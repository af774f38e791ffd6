/**
 * What `astraea serve` answers while the model loads (seconds to minutes): the port is already
 * open, `GET /health` says 503 `{"status":"loading"}` — a Kubernetes readiness probe or a router
 * sees "not ready" rather than "connection refused", which some treat as a dead pod — and every
 * other request gets a 503 in OpenAI's error shape. Closed when the server proper takes the port.
 * Plain node:http: fastify takes most of a second to import, and the model load should not wait.
 */
import { createServer, type Server } from 'node:http';

export interface LoadingResponder {
  /** The port it holds (the one the system chose for port 0). */
  port: number;
  close(): Promise<void>;
}

export async function respondWhileLoading(host: string, port: number): Promise<LoadingResponder> {
  const server: Server = createServer((request, response) => {
    const health = request.url === '/health';
    const body = health
      ? { status: 'loading' }
      : { error: { message: 'the model is still loading; retry shortly', type: 'server_error', param: null, code: 'model_loading' } };
    response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5', connection: 'close' });
    response.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
