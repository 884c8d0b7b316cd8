// Search view helpers (issue 8): date filters and the request's parameters.

import { t } from './i18n.svelte';
import type { SearchQuery } from './types';

/** "2026-11-29" (a date input's value) → the start of that day in local time, as RFC 3339; '' when empty or invalid. */
export function dayStart(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return '';
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** The end of that day (the start of the next one): a "to" date includes the whole day. */
export function dayEnd(value: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return '';
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + 1);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export interface SearchForm {
  q: string;
  conversationId: string;
  senderId: string;
  from: string;
  to: string;
}

/** The request for a form, or an error sentence; null when there is nothing to search yet. */
export function buildSearch(f: SearchForm, offset = 0, limit = 30): SearchQuery | { error: string } | null {
  const q = f.q.trim();
  if (!q) return null;
  if ([...q].length > 200) return { error: 'A search can be at most 200 characters long.' };
  const out: SearchQuery = { q, limit };
  if (offset) out.offset = offset;
  if (f.conversationId) out.conversation_id = Number(f.conversationId);
  if (f.senderId) out.sender_id = Number(f.senderId);
  const after = dayStart(f.from);
  const before = dayEnd(f.to);
  if (after && before && after >= before) return { error: t('search.date_order') };
  if (after) out.after = after;
  if (before) out.before = before;
  return out;
}
