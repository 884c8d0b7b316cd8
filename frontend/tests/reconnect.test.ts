import { describe, expect, it } from 'vitest';
import { probeHealth } from '../src/lib/api';
import { SCHEDULE, afterFailure, connectWindow, healthUrl, probeDelay, retryAfterDelay } from '../src/lib/reconnect';
import S from '../src/lib/reconnect.json';

const lo = () => 0;
const hi = () => 0.999999;

describe('reconnect schedule', () => {
  it('reads its numbers from reconnect.json (shared with the Go students of the storm tests)', () => {
    expect(SCHEDULE).toBe(S);
    expect(SCHEDULE.quick_attempts).toBeGreaterThan(0);
    expect(SCHEDULE.probe_min_ms).toBeLessThan(SCHEDULE.probe_max_ms);
  });

  it('retries quickly first: attempt n within [0, quick_base·2^(n−1)]', () => {
    for (let n = 1; n <= SCHEDULE.quick_attempts; n++) {
      const top = SCHEDULE.quick_base_ms * 2 ** (n - 1);
      expect(afterFailure(n, lo)).toEqual({ kind: 'connect', delay: 0 });
      const d = afterFailure(n, hi);
      expect(d.kind).toBe('connect');
      expect(d.delay).toBeLessThan(top);
      expect(d.delay).toBeGreaterThanOrEqual(top - 1);
    }
  });

  it('then probes at short jittered intervals, however long the server is away', () => {
    for (const n of [SCHEDULE.quick_attempts + 1, 10, 100, 10_000]) {
      expect(afterFailure(n, lo)).toEqual({ kind: 'probe', delay: SCHEDULE.probe_min_ms });
      expect(afterFailure(n, hi).delay).toBe(SCHEDULE.probe_max_ms - 1);
    }
    expect(probeDelay(() => 0.5)).toBe((SCHEDULE.probe_min_ms + SCHEDULE.probe_max_ms) / 2);
  });

  it('connects within a window that doubles per answered probe, capped', () => {
    expect(connectWindow(1, lo)).toBe(0);
    expect(connectWindow(1, hi)).toBe(SCHEDULE.window_ms - 1);
    expect(connectWindow(2, hi)).toBe(2 * SCHEDULE.window_ms - 1);
    expect(connectWindow(50, hi)).toBe(SCHEDULE.cap_ms - 1);
  });

  it('honours Retry-After, spread over as much again, capped', () => {
    expect(retryAfterDelay(3, lo)).toBe(3000);
    expect(retryAfterDelay(3, hi)).toBe(5999);
    expect(retryAfterDelay(3600, lo)).toBe(SCHEDULE.cap_ms);
  });

  it('probes the health endpoint of the socket host', () => {
    expect(healthUrl('ws://10.0.0.2:8080/api/v1/ws')).toBe('http://10.0.0.2:8080/healthz');
    expect(healthUrl('wss://h/api/v1/ws')).toBe('https://h/healthz');
  });
});

describe('probeHealth', () => {
  it('is a plain GET without credentials and reads 200, 503 Retry-After and failures', async () => {
    const seen: { url: string; init?: RequestInit }[] = [];
    const answer = (r: () => Response | Promise<Response>) => (url: string, init?: RequestInit) => {
      seen.push({ url, init });
      return Promise.resolve().then(r);
    };
    expect(await probeHealth('http://h/healthz', 1000, answer(() => new Response('{"status":"ok"}', { status: 200 })))).toEqual({ ok: true });
    expect(seen[0].url).toBe('http://h/healthz');
    expect(seen[0].init?.credentials).toBe('omit');
    expect(seen[0].init?.method ?? 'GET').toBe('GET');
    expect(await probeHealth('u', 1000, answer(() => new Response('', { status: 503, headers: { 'Retry-After': '4' } })))).toEqual({ ok: false, retryAfter: 4 });
    expect(await probeHealth('u', 1000, answer(() => new Response('', { status: 503 })))).toEqual({ ok: false });
    expect(await probeHealth('u', 1000, answer(() => new Response('', { status: 502 })))).toEqual({ ok: false });
    expect(
      await probeHealth('u', 1000, () => Promise.reject(new TypeError('Failed to fetch'))),
    ).toEqual({ ok: false });
  });

  it('gives up on a probe that gets no answer', async () => {
    const hang = (_u: string, init?: RequestInit) =>
      new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    expect(await probeHealth('u', 20, hang)).toEqual({ ok: false });
  });
});

describe('the examples in reconnect.json (the Go mirror checks the same ones)', () => {
  for (const e of S.examples) {
    it(`${e.step} n=${e.n} random=${e.random} → ${e.delay} ms`, () => {
      const r = () => e.random;
      if (e.step === 'after_failure') expect(afterFailure(e.n, r)).toEqual({ kind: e.kind, delay: e.delay });
      else if (e.step === 'window') expect(connectWindow(e.n, r)).toBe(e.delay);
      else if (e.step === 'retry_after') expect(retryAfterDelay(e.n, r)).toBe(e.delay);
      else throw new Error('unknown step ' + e.step);
    });
  }
});
