// Dates, times and numbers for people, through Intl in the chosen language.

import { intlLocale, t } from './i18n.svelte';

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// Formatters are costly to build and a message list asks for hundreds: one per locale and option set.
const cache = new Map<string, Intl.DateTimeFormat | Intl.NumberFormat | Intl.RelativeTimeFormat>();
function dtf(opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const loc = intlLocale();
  const k = 'd' + loc + JSON.stringify(opts);
  let f = cache.get(k) as Intl.DateTimeFormat | undefined;
  if (!f) cache.set(k, (f = new Intl.DateTimeFormat(loc, opts)));
  return f;
}

function valid(iso: string | number | Date): Date | null {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Clock time of a message: "09:41". */
export function clock(iso: string | number | Date): string {
  const d = valid(iso);
  return d ? dtf({ hour: '2-digit', minute: '2-digit' }).format(d) : '';
}

/** Clock time with seconds (the audit log). */
export function clockSeconds(iso: string | number | Date): string {
  const d = valid(iso);
  return d ? dtf({ hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(d) : '';
}

/** Full date and time, for a title tooltip. */
export function fullTime(iso: string | number | Date): string {
  const d = valid(iso);
  return d ? dtf({ dateStyle: 'full', timeStyle: 'medium' }).format(d) : '';
}

/** A date and a time, medium length ("3 Dec 2026, 14:05"). */
export function dateTime(iso: string | number | Date): string {
  const d = valid(iso);
  return d ? dtf({ dateStyle: 'medium', timeStyle: 'short' }).format(d) : '';
}

/** Short day and month ("3 Dec"). */
export function shortDate(iso: string | number | Date): string {
  const d = valid(iso);
  return d ? dtf({ day: 'numeric', month: 'short' }).format(d) : '';
}

/** Short day and month with the clock ("3 Dec, 14:05"). */
export function shortDateTime(iso: string | number | Date, seconds = false): string {
  const d = valid(iso);
  return d ? dtf({ day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit', ...(seconds ? { second: '2-digit' } : {}) }).format(d) : '';
}

/** List time: the clock today, the weekday this week, the date before that. */
export function shortTime(iso: string, now: number = Date.now()): string {
  const d = valid(iso);
  if (!d) return '';
  const n = new Date(now);
  if (sameDay(d, n)) return clock(iso);
  const days = (n.getTime() - d.getTime()) / 86_400_000;
  if (days < 6) return dtf({ weekday: 'short' }).format(d);
  return shortDate(d);
}

/** Day separator label: "Today", "Yesterday", or the date. */
export function dayLabel(iso: string, now: number = Date.now()): string {
  const d = new Date(iso);
  const n = new Date(now);
  if (sameDay(d, n)) return t('time.today');
  const y = new Date(now - 86_400_000);
  if (sameDay(d, y)) return t('time.yesterday');
  return dtf({ weekday: 'long', day: 'numeric', month: 'long', year: d.getFullYear() === n.getFullYear() ? undefined : 'numeric' }).format(d);
}

export function dayKey(iso: string): string {
  const d = new Date(iso);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** A slow-mode interval: "10 s", "1 min", "90 s" (the units are in the catalog). */
export function slowLabel(seconds: number): string {
  if (seconds >= 60 && seconds % 60 === 0) return t('time.minutes_short', { n: seconds / 60 });
  return t('time.seconds_short', { n: seconds });
}

/** A number with the language's digits and grouping. */
export function num(n: number): string {
  const loc = intlLocale();
  const k = 'n' + loc;
  let f = cache.get(k) as Intl.NumberFormat | undefined;
  if (!f) cache.set(k, (f = new Intl.NumberFormat(loc)));
  return f.format(n);
}

/** "in 5 minutes", "3 hours ago", "yesterday": the time from now to `iso`, in the language. */
export function relativeTime(iso: string | number | Date, now: number = Date.now()): string {
  const d = valid(iso);
  if (!d) return '';
  const loc = intlLocale();
  const k = 'r' + loc;
  let f = cache.get(k) as Intl.RelativeTimeFormat | undefined;
  if (!f) cache.set(k, (f = new Intl.RelativeTimeFormat(loc, { numeric: 'auto' })));
  const s = Math.round((d.getTime() - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return f.format(s, 'second');
  if (a < 45 * 60) return f.format(Math.round(s / 60), 'minute');
  if (a < 22 * 3600) return f.format(Math.round(s / 3600), 'hour');
  if (a < 26 * 86400) return f.format(Math.round(s / 86400), 'day');
  if (a < 320 * 86400) return f.format(Math.round(s / (30 * 86400)), 'month');
  return f.format(Math.round(s / (365 * 86400)), 'year');
}
