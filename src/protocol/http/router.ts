/**
 * Route registration on the uWS app: what every route gets for free.
 *
 * uWS's HttpRequest lives only during the synchronous handler call, so the
 * router copies what handlers need (decoded path parameters, the query, the
 * headers) into a plain `RouteRequest` first, opens the `Exchange` (which
 * registers onAborted), starts reading the body for routes that take one,
 * and only then lets the handler await. It also times the exchange for the
 * metrics and turns any thrown error into the Confluent-style error answer,
 * so bad input never escapes as an unhandled rejection.
 */

import type { Logger } from 'pino';
import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { HttpError, badRequest } from './errors.js';
import { HTTP_BODY_BYTES_MAX } from './limits.js';
import type { HttpMetrics } from './metrics.js';
import { Exchange } from './respond.js';

export interface RouteRequest {
  method: string;
  /** Path and query as the client sent them: what a redirect to the partition's leader keeps. */
  target: string;
  /** Path parameters in pattern order, percent-decoded. */
  params: string[];
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: ReadonlyMap<string, string>;
  /** The request body (routes registered with a body only). */
  body: Buffer;
}

export type RouteHandler = (exchange: Exchange, request: RouteRequest) => void | Promise<void>;

type Method = 'get' | 'head' | 'post' | 'put' | 'patch' | 'del' | 'any';

export class Router {
  constructor(
    private readonly app: TemplatedApp,
    private readonly metrics: HttpMetrics,
    private readonly logger: Logger,
  ) {}

  /** A GET route answers HEAD too (status and headers, no body), as health checks and caches expect. */
  get(pattern: string, handler: RouteHandler): void {
    this.register('get', pattern, false, handler);
    this.register('head', pattern, false, handler);
  }

  post(pattern: string, handler: RouteHandler): void {
    this.register('post', pattern, true, handler);
  }

  put(pattern: string, handler: RouteHandler): void {
    this.register('put', pattern, true, handler);
  }

  patch(pattern: string, handler: RouteHandler): void {
    this.register('patch', pattern, true, handler);
  }

  del(pattern: string, handler: RouteHandler): void {
    this.register('del', pattern, false, handler);
  }

  /** Every other method and path: 404 in the error shape, counted under the route label "unmatched". */
  fallback(): void {
    this.app.any('/*', (res, req) => {
      const method = req.getMethod().toUpperCase();
      const url = req.getUrl();
      const exchange = this.open(res, 'unmatched', method);
      exchange.fail(new HttpError(404, `no route for ${method} ${url}`));
    });
  }

  private register(method: Method, pattern: string, readsBody: boolean, handler: RouteHandler): void {
    const parameterCount = pattern.split('/').filter((segment) => segment.startsWith(':')).length;
    this.app[method](pattern, (res, req) => {
      const httpMethod = req.getMethod().toUpperCase();
      const exchange = this.open(res, pattern, httpMethod, method === 'head');
      let request: RouteRequest;
      let body: Promise<Buffer> | null = null;
      try {
        request = captureRequest(req, httpMethod, parameterCount);
        if (readsBody) body = exchange.readBody(HTTP_BODY_BYTES_MAX, declaredLength(request.headers));
      } catch (error) {
        this.failed(exchange, error, pattern, null);
        return;
      }
      void this.run(exchange, request, body, handler, pattern);
    });
  }

  private async run(exchange: Exchange, request: RouteRequest, body: Promise<Buffer> | null, handler: RouteHandler, route: string): Promise<void> {
    try {
      if (body) request.body = await body;
      await handler(exchange, request);
    } catch (error) {
      this.failed(exchange, error, route, request.target);
    }
  }

  private open(res: HttpResponse, route: string, method: string, headOnly = false): Exchange {
    return new Exchange(res, this.metrics.observer(route, method), headOnly);
  }

  /** `redirectTarget`: a handler that throws NOT_LEADER_OR_FOLLOWER has done nothing the leader would repeat, so it may redirect there. */
  private failed(exchange: Exchange, error: unknown, route: string, redirectTarget: string | null): void {
    if (!exchange.isOpen || exchange.isStreaming) {
      // Nothing more can be said to this client; a stream ends itself with an error event.
      if (!(error instanceof HttpError)) this.logger.debug({ err: error, route }, 'HTTP exchange failed after its answer began');
      return;
    }
    const response = exchange.fail(error, redirectTarget);
    if (response.unexpected) this.logger.error({ err: error, route }, 'HTTP request failed');
  }
}

function captureRequest(req: HttpRequest, method: string, parameterCount: number): RouteRequest {
  // The raw query first: uWS decodes in place when asked for one key, which would corrupt it.
  const rawQuery = req.getQuery() ?? '';
  const query = new URLSearchParams(rawQuery);
  const headers = new Map<string, string>();
  req.forEach((name, value) => headers.set(name, value));
  const params: string[] = [];
  for (let i = 0; i < parameterCount; i++) params.push(decodeParameter(req.getParameter(i) ?? ''));
  const target = rawQuery === '' ? req.getUrl() : `${req.getUrl()}?${rawQuery}`;
  return { method, target, params, query, headers, body: EMPTY_BODY };
}

const EMPTY_BODY = Buffer.alloc(0);

function decodeParameter(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest(`path segment ${JSON.stringify(raw)} is not valid percent-encoding`);
  }
}

function declaredLength(headers: ReadonlyMap<string, string>): number | null {
  const value = headers.get('content-length');
  if (value === undefined || !/^\d+$/.test(value)) return null;
  return Number(value);
}
