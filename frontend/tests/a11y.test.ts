// lib/announce.svelte.ts (which new messages are spoken, and how) and lib/roving.ts (the
// message list as one tab stop) in jsdom.
import { afterEach, describe, expect, it } from 'vitest';
import { announceMessage, announcementFor, announcer, resetAnnouncer, spoken } from '../src/lib/announce.svelte';
import { roving } from '../src/lib/roving';
import type { Conversation, Message, User } from '../src/lib/types';

const me: User = { id: 1, username: 'grace', display_name: 'Grace', role: 'user', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const ana: User = { ...me, id: 2, username: 'ana', display_name: 'Ana' };
function conv(over: Partial<Conversation> = {}): Conversation {
  return { id: 7, name: 'Lab', kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 10, unread: 0, member_role: 'member', ...over };
}
let n = 0;
function msg(over: Partial<Message> = {}): Message {
  n++;
  return { id: n, conversation_id: 7, seq: n, sender: ana, body: `hello ${n}`, created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false, ...over };
}

describe('announcementFor', () => {
  it('an ordinary message: polite in the open conversation, silent elsewhere', () => {
    expect(announcementFor(msg({ body: 'Hi **all**' }), conv(), me, true)).toEqual({ urgent: false, text: 'Ana: Hi all' });
    expect(announcementFor(msg(), conv(), me, false)).toBeNull();
  });
  it('never the reader’s own, a deleted one, or without a conversation', () => {
    expect(announcementFor(msg({ sender: me }), conv(), me, true)).toBeNull();
    expect(announcementFor(msg({ deleted: true }), conv(), me, true)).toBeNull();
    expect(announcementFor(msg(), undefined, me, true)).toBeNull();
    expect(announcementFor(msg(), conv(), null, true)).toBeNull();
  });
  it('mentions and direct messages: assertive, worded distinctly', () => {
    expect(announcementFor(msg({ body: '@grace look', mentions: [1] }), conv(), me, true)).toEqual({ urgent: true, text: 'Mention from Ana: @grace look' });
    expect(announcementFor(msg({ body: '@all look', mention_all: true }), conv(), me, false)).toEqual({ urgent: true, text: 'Mention from Ana in Lab: @all look' });
    expect(announcementFor(msg({ body: 'psst' }), conv({ kind: 'direct' }), me, false)).toEqual({ urgent: true, text: 'Direct message from Ana: psst' });
    // Someone else mentioned: an ordinary message.
    expect(announcementFor(msg({ body: '@bob hi', mentions: [3] }), conv(), me, true)?.urgent).toBe(false);
  });
  it('a muted conversation’s mention is not urgent', () => {
    expect(announcementFor(msg({ mentions: [1] }), conv({ notifications_muted: true }), me, false)).toBeNull();
  });
  it('speech text: one line, cut at 160 characters, attachments named', () => {
    expect(spoken(msg({ body: 'a\n\n  b' }))).toBe('a b');
    expect(Array.from(spoken(msg({ body: 'x'.repeat(400) }))).length).toBe(160);
    expect(spoken(msg({ body: '', attachments: [{ id: 1, name: 'a.png', size: 1, content_type: 'image/png', inline: true } as never] }))).toBe('sent an attachment');
  });
});

describe('announceMessage', () => {
  afterEach(resetAnnouncer);
  it('each message once, the last five kept per region', () => {
    const m = msg();
    announceMessage(m, conv(), me, true);
    announceMessage(m, conv(), me, true);
    expect(announcer.polite.map((a) => a.text)).toEqual([`Ana: ${m.body}`]);
    for (let i = 0; i < 7; i++) announceMessage(msg({ mentions: [1] }), conv(), me, true);
    expect(announcer.urgent).toHaveLength(5);
    resetAnnouncer();
    expect(announcer.polite).toHaveLength(0);
    expect(announcer.urgent).toHaveLength(0);
  });
});

describe('roving', () => {
  function list(count: number): HTMLElement {
    document.body.innerHTML = '';
    const el = document.createElement('div');
    for (let i = 1; i <= count; i++) {
      const m = document.createElement('div');
      m.setAttribute('data-testid', 'message');
      m.dataset.id = String(i);
      m.innerHTML = `<span class="acts"><button>react ${i}</button><button>reply ${i}</button></span><a href="#x">link</a>`;
      el.append(m);
    }
    document.body.append(el);
    return el;
  }
  const stops = (el: HTMLElement) => Array.from(el.querySelectorAll<HTMLElement>('*')).filter((e) => e.tabIndex >= 0 && e.getAttribute('tabindex') !== '-1' && (e.matches('button, a[href]') || e.hasAttribute('tabindex')));
  const key = (el: Element, k: string, shiftKey = false) => el.dispatchEvent(new KeyboardEvent('keydown', { key: k, shiftKey, bubbles: true, cancelable: true }));

  it('one tab stop, the newest message; arrows, Home and End move', () => {
    const el = list(4);
    const stop = roving(el);
    const items = Array.from(el.children) as HTMLElement[];
    expect(stops(el)).toEqual([items[3]]);
    items[3].focus();
    key(items[3], 'ArrowUp');
    expect(document.activeElement).toBe(items[2]);
    expect(stops(el)).toEqual([items[2]]);
    key(items[2], 'Home');
    expect(document.activeElement).toBe(items[0]);
    key(items[0], 'ArrowUp');
    expect(document.activeElement).toBe(items[0]);
    key(items[0], 'End');
    expect(document.activeElement).toBe(items[3]);
    key(items[3], 'ArrowDown');
    expect(document.activeElement).toBe(items[3]);
    stop();
  });
  it('Enter opens a message: its controls join the tab order, Esc goes back', () => {
    const el = list(3);
    const stop = roving(el);
    const items = Array.from(el.children) as HTMLElement[];
    items[1].focus();
    key(items[1], 'Enter');
    expect(document.activeElement?.textContent).toBe('react 2');
    expect(stops(el).map((e) => e.textContent)).toEqual(expect.arrayContaining(['react 2', 'reply 2', 'link']));
    expect(stops(el).some((e) => e.textContent === 'react 1')).toBe(false);
    key(document.activeElement!, 'Escape');
    expect(document.activeElement).toBe(items[1]);
    expect(stops(el)).toEqual([items[1]]);
    stop();
  });
  it('controls added later are taken out of the tab order too', async () => {
    const el = list(2);
    const stop = roving(el);
    const b = document.createElement('button');
    b.textContent = 'late';
    el.children[0].append(b);
    // The observer and the sync are microtasks: one macrotask turn runs both.
    await new Promise((r) => setTimeout(r, 0));
    expect(b.getAttribute('tabindex')).toBe('-1');
    stop();
  });
});
