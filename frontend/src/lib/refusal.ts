// The server's refusals in the reader's language. The error envelope's `code` is stable;
// where one code has several human texts (muted until X, slow mode wait N s, paused, the
// direct-message policy) the variable part is read from the message the server sends.
// Anything not known here is shown as the server's own (English) message.

import { dateTime, clock } from './format';
import { t } from './i18n.svelte';
import { isPausedRefusal, mutedUntil, slowModeWait } from './api';

/** The server's fixed texts for a code (the ones it sends when nothing more specific applies). */
const FIXED: Record<string, string> = {
  'unauthorized|sign in first': 'refusal.sign_in_first',
  'forbidden|not allowed': 'refusal.not_allowed',
  'not_found|not found': 'refusal.not_found',
  'conflict|already exists': 'refusal.already_exists',
  'too_large|too large': 'refusal.too_large',
  'unavailable|storage is unavailable; try again': 'refusal.unavailable',
  'internal|internal error': 'refusal.internal',
  'forbidden|direct messages are turned off in this class': 'refusal.dms_off',
  'forbidden|in this class you can send direct messages only to staff': 'refusal.dms_staff',
  'too_large|request body over 64 KiB': 'refusal.too_large',
};

/** Errors this page makes itself (no server answer), by code. */
const LOCAL: Record<string, string> = {
  network: 'refusal.network',
  bad_response: 'refusal.bad_response',
  aborted: 'refusal.aborted',
};

function when(iso: string): string {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? clock(d) : dateTime(d);
}

/** A refusal (code + the server's message) as a sentence in the current language. */
export function refusalText(code: string, message: string | undefined | null, retryAfter: number | null = null): string {
  const msg = (message ?? '').trim();
  if (LOCAL[code]) return t(LOCAL[code]);
  const http = /^http_(\d+)$/.exec(code);
  if (http) return http[1] === '413' ? t('refusal.file_too_large') : t('refusal.http_status', { status: http[1] });
  const wait = slowModeWait(msg);
  if (code === 'rate_limited' && wait !== null) return t('refusal.slow_mode', { seconds: wait });
  if (code === 'forbidden') {
    const until = mutedUntil(msg);
    if (until) return t('refusal.muted_until', { time: when(until) });
    if (isPausedRefusal(msg)) return t('refusal.paused');
  }
  const key = FIXED[`${code}|${msg.toLowerCase()}`];
  let text = key ? t(key) : readableTimes(msg || code);
  if (code === 'rate_limited' && retryAfter) text = t('refusal.try_again_in', { text, seconds: retryAfter });
  return text;
}

/** A message's RFC 3339 times as local clock times (or date and time when not today). */
export function readableTimes(message: string): string {
  return message.replace(/\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})/g, (x) => {
    const d = new Date(x);
    return Number.isNaN(d.getTime()) ? x : when(x);
  });
}
