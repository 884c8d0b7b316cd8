// The reconnect schedule (docs/api.md, "Reconnect schedule"): a few quick
// retries, then a cheap health probe (GET /healthz, answered without the
// store) polled at short jittered intervals, and once it answers, a connect
// within a jittered window so a whole class does not arrive in the same
// millisecond. The numbers live in reconnect.json, which the Go mirror of this
// schedule in the storm and restart tests reads too.

import S from './reconnect.json';

export interface Schedule {
  /** Connection attempts right after a loss, before probing. */
  quick_attempts: number;
  /** Quick attempt n waits uniform [0, quick_base_ms·2^(n−1)]. */
  quick_base_ms: number;
  /** A probe follows the previous one after uniform [probe_min_ms, probe_max_ms]. */
  probe_min_ms: number;
  probe_max_ms: number;
  /** A probe with no answer by then counts as failed. */
  probe_timeout_ms: number;
  /** After the k-th answered probe, connect within uniform [0, min(cap_ms, window_ms·2^(k−1))]. */
  window_ms: number;
  cap_ms: number;
}

export const SCHEDULE: Schedule = S;

/** What to do after the n-th connection attempt in a row ended without `ready`. */
export type Step = { kind: 'connect' | 'probe'; delay: number };

export function afterFailure(failures: number, random: () => number, s: Schedule = SCHEDULE): Step {
  if (failures <= s.quick_attempts) {
    return { kind: 'connect', delay: Math.floor(random() * s.quick_base_ms * 2 ** Math.max(0, failures - 1)) };
  }
  return { kind: 'probe', delay: probeDelay(random, s) };
}

/** The wait before the next probe. */
export function probeDelay(random: () => number, s: Schedule = SCHEDULE): number {
  return s.probe_min_ms + Math.floor(random() * (s.probe_max_ms - s.probe_min_ms));
}

/** The wait before connecting once the k-th probe since the last `ready` was answered (k ≥ 1). */
export function connectWindow(answered: number, random: () => number, s: Schedule = SCHEDULE): number {
  return Math.floor(random() * Math.min(s.cap_ms, s.window_ms * 2 ** Math.max(0, Math.min(answered - 1, 30))));
}

/** The wait after a probe answered 503 with Retry-After: the hint, spread over as much again. */
export function retryAfterDelay(seconds: number, random: () => number, s: Schedule = SCHEDULE): number {
  const ms = Math.min(s.cap_ms, Math.max(0, seconds) * 1000);
  return ms + Math.floor(random() * ms);
}

/** http(s)://host/healthz for ws(s)://host/api/v1/ws. */
export function healthUrl(wsUrl: string): string {
  return wsUrl.replace(/^ws(s?):/, 'http$1:').replace(/\/api\/v1\/ws(\?.*)?$/, '/healthz');
}
