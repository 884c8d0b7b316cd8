// Mentions and notification mutes in the application state (issue 8): the badge
// from `mentioned` frames, its reset on read, the mute flag, and jumping to a message.
import { describe, expect, it } from 'vitest';
import { calls, flush, serve, useFakeSocket, startApp } from './fakes';
import { parseHash, routeHash } from '../src/lib/chat.svelte';
import { notifierFor, type NotificationCtor } from '../src/lib/notify';
import type { Conversation, Message, User } from '../src/lib/types';

const me: User = { id: 1, username: 'grace', display_name: 'Grace', role: 'user', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const prof: User = { ...me, id: 2, username: 'prof', display_name: 'Prof. Ada', role: 'admin' };
const info = { name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 0, unread: 0, unread_mentions: 0, notifications_muted: false, member_role: 'member', ...over };
}
function msg(c: number, seq: number, sender: User, over: Partial<Message> = {}): Message {
  return { id: c * 1000 + seq, conversation_id: c, seq, sender, body: `m${seq}`, created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false, ...over };
}

useFakeSocket();

/** History of conversation `c` with seqs 1..n; GET …/messages honours before_seq and limit like the server. */
function history(c: number, n: number): Message[] {
  return Array.from({ length: n }, (_, i) => msg(c, i + 1, prof, { body: `line ${i + 1}` }));
}

async function signedIn(convs: Conversation[], pages: Record<number, Message[]> = {}) {
  window.history.replaceState(null, '', '/');
  location.hash = '';
  serve((m, p, b) => {
    if (p === '/info') return { status: 200, body: info };
    if (m === 'GET' && p === '/session') return { status: 200, body: { user: me, csrf_token: 'tok' } };
    if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: convs } };
    const mm = /^\/conversations\/(\d+)\/messages(?:\?(.*))?$/.exec(p);
    if (m === 'GET' && mm) {
      const q = new URLSearchParams(mm[2] ?? '');
      const limit = Number(q.get('limit') ?? 50);
      let list = pages[Number(mm[1])] ?? [];
      if (q.get('before_seq')) list = list.filter((x) => x.seq < Number(q.get('before_seq')));
      const page = list.slice(-limit);
      return { status: 200, body: { messages: page, has_more: list.length > page.length } };
    }
    if (m === 'GET' && /^\/conversations\/\d+\/members$/.test(p)) return { status: 200, body: { members: [{ user: me, role: 'member', joined_at: '' }, { user: prof, role: 'owner', joined_at: '' }] } };
    if (m === 'POST' && /\/read$/.test(p)) return { status: 204 };
    if (m === 'PUT' && /^\/conversations\/[12]\/notifications$/.test(p)) return (b as { muted: unknown }).muted === true || (b as { muted: unknown }).muted === false ? { status: 204 } : { status: 400 };
    return undefined;
  });
  return startApp(me);
}

describe('routes', () => {
  it('#search and #mentions', () => {
    expect(parseHash('#search')).toEqual({ view: 'search' });
    expect(parseHash('#mentions')).toEqual({ view: 'mentions' });
    expect(routeHash({ view: 'mentions' })).toBe('#mentions');
  });
});

describe('mention badges', () => {
  it('counts mentioned frames for conversations not on screen, once per message, and sums them', async () => {
    const { app, ws } = await signedIn([conv(1, { last_seq: 3 }), conv(2, { last_seq: 5, unread: 1, unread_mentions: 1 })], { 1: history(1, 3) });
    expect(app.totalMentions).toBe(1);
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    const m = msg(2, 6, prof, { body: '@grace see this' });
    ws.frame({ type: 'activity', conversation_id: 2, last_seq: 6 });
    ws.frame({ type: 'mentioned', conversation_id: 2, message: m });
    ws.frame({ type: 'mentioned', conversation_id: 2, message: m }); // the same message again: not counted twice
    expect(app.conversation(2)?.unread_mentions).toBe(2);
    expect(app.totalMentions).toBe(2);
    ws.frame({ type: 'mentioned', conversation_id: 2, message: msg(2, 7, prof) });
    expect(app.totalMentions).toBe(3);
    // A conversation_updated frame carries no per-user fields: ours stay.
    ws.frame({ type: 'conversation_updated', conversation: { ...conv(2, { last_seq: 7, name: 'Renamed' }), unread_mentions: 0, notifications_muted: false, member_role: null } });
    expect(app.conversation(2)).toMatchObject({ name: 'Renamed', unread_mentions: 3 });
    app.socket?.stop();
  });

  it('a mention in the conversation on screen is read at once, not counted', async () => {
    const { app, ws } = await signedIn([conv(1, { last_seq: 3 })], { 1: history(1, 3) });
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    const m = msg(1, 4, prof, { body: '@grace now' });
    ws.frame({ type: 'message', message: m });
    ws.frame({ type: 'mentioned', conversation_id: 1, message: m });
    expect(app.conversation(1)?.unread_mentions).toBe(0);
    await new Promise((r) => setTimeout(r, 350));
    expect(ws.sent).toContainEqual({ type: 'read', conversation_id: 1, seq: 4 });
    app.socket?.stop();
  });

  it('resets the mention badge when the conversation is read', async () => {
    const { app, ws } = await signedIn([conv(1, { last_seq: 3, unread: 3, unread_mentions: 2 }), conv(2)], { 1: history(1, 3) });
    expect(app.totalMentions).toBe(2);
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    await new Promise((r) => setTimeout(r, 350));
    expect(ws.sent).toContainEqual({ type: 'read', conversation_id: 1, seq: 3 });
    expect(app.conversation(1)).toMatchObject({ unread: 0, unread_mentions: 0 });
    expect(app.totalMentions).toBe(0);
    app.socket?.stop();
  });
});

describe('notification mute', () => {
  it('PUTs {muted} and updates the local flag; a refusal leaves it', async () => {
    const { app } = await signedIn([conv(1)]);
    await app.setNotificationsMuted(1, true);
    expect(calls.find((c) => c.method === 'PUT')).toMatchObject({ path: '/conversations/1/notifications', body: { muted: true } });
    expect(app.conversation(1)?.notifications_muted).toBe(true);
    await app.setNotificationsMuted(1, false);
    expect(app.conversation(1)?.notifications_muted).toBe(false);
    await expect(app.setNotificationsMuted(9, true)).rejects.toMatchObject({ status: 404 });
    app.socket?.stop();
  });

  it('frames see the hook first (notifications), and the state still applies a frame when the hook throws', async () => {
    const { app, ws } = await signedIn([conv(2, { last_seq: 5 })]);
    const seen: string[] = [];
    app.onFrameHook = (f) => {
      seen.push(f.type === 'activity' ? `activity:${app.conversation(2)?.last_seq}` : f.type);
      throw new Error('boom');
    };
    ws.frame({ type: 'activity', conversation_id: 2, last_seq: 8 });
    expect(seen).toEqual(['activity:5']); // before the state moved on
    expect(app.conversation(2)?.last_seq).toBe(8);
    app.socket?.stop();
  });
});

describe('activity frames and notifications', () => {
  it('the notifier and the preview share one request for the newest message', async () => {
    const { app, ws } = await signedIn([conv(2, { last_seq: 5 })], { 2: [msg(2, 6, prof)] });
    const FakeNotification = Object.assign(function () {} as unknown as NotificationCtor, { permission: 'granted' as const, requestPermission: async () => 'granted' as const });
    const n = notifierFor(app, { Notification: FakeNotification, visible: () => true });
    app.onFrameHook = (f) => n.frame(f);
    const before = calls.length;
    ws.frame({ type: 'activity', conversation_id: 2, last_seq: 6 });
    await flush();
    const fetched = calls.slice(before).filter((c) => c.method === 'GET' && c.path.startsWith('/conversations/2/messages'));
    expect(fetched).toHaveLength(1);
    expect(app.lastMessage[2]?.seq).toBe(6);
    app.socket?.stop();
  });
});

describe('focusMessage', () => {
  it('opens the conversation and loads older history down to the message, then marks it ready', async () => {
    const { app, ws } = await signedIn([conv(1, { last_seq: 300 }), conv(2)], { 1: history(1, 300) });
    app.focusMessage(1, 20);
    expect(app.focus).toEqual({ conversationId: 1, seq: 20, ready: false });
    await flush();
    await flush();
    expect(app.route).toEqual({ view: 'chat', id: 1 });
    const seqs = app.rooms[1].messages.map((m) => m.seq);
    expect(seqs[0]).toBeLessThanOrEqual(20);
    expect(seqs.at(-1)).toBe(300);
    // Contiguous: no gap between the message and the newest (live messages keep appending).
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0] + i));
    expect(app.focus).toEqual({ conversationId: 1, seq: 20, ready: true });
    expect(ws.sent).toContainEqual({ type: 'subscribe', conversation_id: 1, after_seq: 300 });
    // Navigating elsewhere drops a focus that was not used.
    app.navigate({ view: 'chat', id: 2 });
    await flush();
    expect(app.focus).toBeNull();
    app.socket?.stop();
  });

  it('in the open conversation: loads what is missing without navigating; a message that is gone says so', async () => {
    const h = history(1, 80).filter((m) => m.seq !== 5);
    const { app } = await signedIn([conv(1, { last_seq: 80 })], { 1: h });
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    expect(app.rooms[1].messages[0].seq).toBe(31);
    app.focusMessage(1, 40);
    await flush();
    expect(app.focus).toMatchObject({ seq: 40, ready: true });
    app.focusMessage(1, 5);
    await flush();
    expect(app.focus).toBeNull();
    expect(app.toasts.map((t) => t.text)).toContain('That message is no longer in the conversation.');
    app.socket?.stop();
  });
});
