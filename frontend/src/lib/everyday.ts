// Pure helpers of the everyday features (reactions, mentions): no state, no DOM.

import type { Member, User } from './types';

/** The fixed reaction set, in the picker's order (docs/api.md). */
export const REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉', '✅', '❓'] as const;

const EMOJI_CP = /^(?:\p{Extended_Pictographic}|\p{Emoji_Component}|\p{Emoji_Modifier}|\p{Regional_Indicator}|\u200d|\ufe0f|\u20e3)+$/u;
const HAS_PICTO = /\p{Extended_Pictographic}|\p{Regional_Indicator}/u;

/** True for exactly one emoji (one grapheme of emoji code points, at most 32 bytes). */
export function isSingleEmoji(s: string): boolean {
  const t = s.trim();
  if (!t || new TextEncoder().encode(t).length > 32) return false;
  if (!EMOJI_CP.test(t) || !HAS_PICTO.test(t)) return false;
  const Seg = (Intl as unknown as { Segmenter?: new (l?: string, o?: { granularity: string }) => { segment(s: string): Iterable<unknown> } }).Segmenter;
  if (Seg) return Array.from(new Seg(undefined, { granularity: 'grapheme' }).segment(t)).length === 1;
  return true;
}

/** The `@query` being typed just before the caret, or null. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = /(^|[^\p{L}\p{N}._@-])@([\p{L}\p{N}._-]{0,64})$/u.exec(before);
  if (!m) return null;
  return { start: caret - m[2].length - 1, query: m[2] };
}

export interface MentionOption {
  username: string;
  label: string;
  user: User | null;
}

/** Members matching the query (username prefix first, then display names), plus @all for owners and admins. */
export function mentionOptions(query: string, members: Member[], meId: number | undefined, canAll: boolean, max = 8): MentionOption[] {
  const q = query.toLowerCase();
  const users = members.map((m) => m.user).filter((u) => u.id !== meId && !u.disabled);
  const score = (u: User): number => {
    const un = u.username.toLowerCase();
    const dn = u.display_name.toLowerCase();
    if (un.startsWith(q)) return 0;
    if (dn.startsWith(q) || dn.split(/\s+/).some((w) => w.startsWith(q))) return 1;
    if (un.includes(q) || dn.includes(q)) return 2;
    return -1;
  };
  const out: MentionOption[] = users
    .map((u) => ({ u, s: score(u) }))
    .filter((x) => x.s >= 0)
    .sort((a, b) => a.s - b.s || a.u.display_name.localeCompare(b.u.display_name))
    .slice(0, max)
    .map(({ u }) => ({ username: u.username, label: u.display_name, user: u }));
  if (canAll && 'all'.startsWith(q)) out.push({ username: 'all', label: 'Everyone in this conversation', user: null });
  return out;
}

/** Text with `@username ` put in place of the query being typed; answers the new text and caret. */
export function insertMention(text: string, start: number, caret: number, username: string): { text: string; caret: number } {
  const ins = '@' + username + ' ';
  const rest = text.slice(caret).replace(/^[\p{L}\p{N}._-]*/u, '').replace(/^ /, '');
  return { text: text.slice(0, start) + ins + rest, caret: start + ins.length };
}
