// What screen readers hear when messages arrive. The visible message list is a role="log"
// with aria-live off: browsers announce every node added to a live region, and the list
// also grows upwards (older history, scrolling back) and with the reader's own sends.
// Instead, two visually hidden regions (Announcer.svelte) get exactly one line per new
// message from someone else: the polite one for the open conversation, the assertive one
// for a mention of the reader or a direct message, worded distinctly.

import { t } from './i18n.svelte';
import type { Conversation, Message, User } from './types';

export interface Announcement {
  id: number;
  text: string;
}

/** The regions' contents; Announcer.svelte renders them. */
export const announcer = $state<{ polite: Announcement[]; urgent: Announcement[] }>({ polite: [], urgent: [] });

const KEEP = 5;
let next = 0;
const said = new Set<number>();

/** A message's text for speech: one line without Markdown emphasis, at most 160 characters. */
export function spoken(m: Message): string {
  // Emphasis and code markers are not read out.
  const line = m.body.replace(/(\*\*|__|~~|`+)/g, '').replace(/\s+/g, ' ').trim();
  if (!line) return m.attachments?.length ? t('a11y.attachment') : '';
  return line.length > 160 ? line.slice(0, 159) + '…' : line;
}

/**
 * The line for a new message, or null when it is not announced: the reader's own, one
 * already announced, or an ordinary message outside the open conversation.
 */
export function announcementFor(m: Message, c: Conversation | undefined, me: User | null, open: boolean): { text: string; urgent: boolean } | null {
  if (!me || !c || m.deleted || m.sender.id === me.id) return null;
  const name = m.sender.display_name;
  const text = spoken(m);
  if (c.kind === 'direct') return { urgent: true, text: t('a11y.direct_from', { name, text }) };
  const mentioned = (m.mentions ?? []).includes(me.id) || !!m.mention_all;
  if (mentioned && !c.notifications_muted) {
    return { urgent: true, text: open ? t('a11y.mention_from', { name, text }) : t('a11y.mention_from_in', { name, conversation: c.name, text }) };
  }
  return open ? { urgent: false, text: t('a11y.message_from', { name, text }) } : null;
}

/** Announces a new message once (a message frame and a mention frame may carry the same one). */
export function announceMessage(m: Message, c: Conversation | undefined, me: User | null, open: boolean): void {
  if (said.has(m.id)) return;
  const a = announcementFor(m, c, me, open);
  if (!a) return;
  said.add(m.id);
  const list = a.urgent ? announcer.urgent : announcer.polite;
  list.push({ id: ++next, text: a.text });
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}

/** Signing out: nothing of the last account stays in the regions. */
export function resetAnnouncer(): void {
  said.clear();
  announcer.polite.length = 0;
  announcer.urgent.length = 0;
}
