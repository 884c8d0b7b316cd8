// Fakes shared by the unit tests that drive the application state: a WebSocket
// the test feeds frames into, a fetch that answers from a route table, an Api that
// records its requests, and the setup that starts a signed-in ChatApp.
import { afterEach, beforeEach, vi } from 'vitest';
import { Api } from '../src/lib/api';
import { ChatApp } from '../src/lib/chat.svelte';
import type { ServerFrame, User } from '../src/lib/types';

export class FakeWS {
  static last: FakeWS | null = null;
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(public url: string) {
    FakeWS.last = this;
  }
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {
    this.readyState = 3;
  }
  frame(f: unknown) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
}

export type Route = (method: string, path: string, body: unknown) => { status: number; body?: unknown } | undefined;

/** Every request the fake fetch received since the last serve(), in order. */
export const calls: { method: string; path: string; body: unknown; headers: Record<string, string> }[] = [];

/** Replaces fetch with one that answers from route (404 envelope for anything else). */
export function serve(route: Route) {
  calls.length = 0;
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const path = url.replace(/^\/api\/v1/, '');
    const body = init.body ? JSON.parse(String(init.body)) : undefined;
    const method = init.method ?? 'GET';
    calls.push({ method, path, body, headers: (init.headers ?? {}) as Record<string, string> });
    const r = route(method, path, body) ?? { status: 404, body: { error: { code: 'not_found', message: `no route ${method} ${path}` } } };
    return new Response(r.body === undefined ? null : JSON.stringify(r.body), { status: r.status });
  });
}

/** Lets pending promises and zero-delay timers run. */
export async function flush() {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
}

/** Every test of the file gets FakeWS as its WebSocket, no socket from before and empty storage; the globals come back after it. */
export function useFakeSocket() {
  beforeEach(() => {
    vi.stubGlobal('WebSocket', FakeWS);
    FakeWS.last = null;
    localStorage.clear();
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });
}

/** serve() for a page signed in as `me`: a test's own answers (`first`) come first, then /info (a function: asked each time) and /session, then `route`. */
export function serveAs(me: User, info: unknown, route: Route, first: Route = () => undefined) {
  history.replaceState(null, '', '/');
  serve((m, p, b) => {
    const x = first(m, p, b);
    if (x) return x;
    if (p === '/info') return { status: 200, body: typeof info === 'function' ? info() : info };
    if (m === 'GET' && p === '/session') return { status: 200, body: { user: me, csrf_token: 'tok' } };
    return route(m, p, b);
  });
}

/** Starts a ChatApp against what serve() answers, opens its socket and has the server say it is ready for `me`. */
export async function startApp(me: User) {
  const app = new ChatApp();
  await app.init();
  const ws = FakeWS.last!;
  ws.readyState = 1;
  ws.frame({ type: 'ready', user: me });
  return { app, ws };
}

/** A WebSocket for ChatSocket on its own: every one made is kept in the class's `all` (a subclass may have its own). */
export class SockWS {
  static all: SockWS[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(public url: string) {
    (new.target as typeof SockWS).all.push(this);
  }
  send(d: string) {
    this.sent.push(JSON.parse(d));
  }
  close() {
    this.readyState = 3;
  }
  frame(f: ServerFrame | Record<string, unknown>) {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
}

export interface RecordedCall {
  url: string;
  method: string;
  body: unknown;
  headers: Record<string, string>;
}

/** An Api (CSRF token "tok") whose fetch records every request in calls and answers with answer(call). */
export function recorder(answer: (c: RecordedCall) => { status: number; body?: unknown; headers?: Record<string, string> }) {
  const calls: RecordedCall[] = [];
  const f = async (url: string, init: RequestInit = {}) => {
    const c = { url, method: init.method ?? 'GET', body: init.body ? JSON.parse(String(init.body)) : undefined, headers: (init.headers ?? {}) as Record<string, string> };
    calls.push(c);
    const a = answer(c);
    return new Response(a.body === undefined ? null : JSON.stringify(a.body), { status: a.status, headers: a.headers });
  };
  const api = new Api('', f);
  api.csrf = 'tok';
  return { api, calls };
}
