// Fakes shared by the unit tests that drive the application state: a WebSocket
// the test feeds frames into, and a fetch that answers from a route table.
import { vi } from 'vitest';

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
