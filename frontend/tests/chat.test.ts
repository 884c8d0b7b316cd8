// The application state (src/lib/chat.svelte.ts) driven through fake fetch and WebSocket.
import { describe, expect, it } from 'vitest';
import { FakeWS, calls, flush, serve, useFakeSocket, serveAs, startApp } from './fakes';
import { ChatApp, parseHash, routeHash } from '../src/lib/chat.svelte';
import type { Conversation, Message, User } from '../src/lib/types';

const me: User = { id: 1, username: 'prof', display_name: 'Prof. Ada', role: 'admin', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const other: User = { ...me, id: 2, username: 'grace', display_name: 'Grace', role: 'user' };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 0, unread: 0, member_role: 'member', ...over };
}
function msg(c: number, seq: number, sender: User, over: Partial<Message> = {}): Message {
  return { id: c * 100 + seq, conversation_id: c, seq, sender, body: `m${seq}`, created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false, ...over };
}

const info = { name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true };


useFakeSocket();

describe('routes', () => {
  it('parse and print', () => {
    expect(parseHash('#c/12')).toEqual({ view: 'chat', id: 12 });
    expect(parseHash('#console')).toEqual({ view: 'console' });
    expect(parseHash('')).toEqual({ view: 'home' });
    expect(parseHash('#nonsense')).toEqual({ view: 'home' });
    expect(routeHash({ view: 'chat', id: 3 })).toBe('#c/3');
    expect(routeHash({ view: 'users' })).toBe('#users');
  });
});

describe('ChatApp start-up', () => {
  it('exchanges a ?ticket= for a session, removes it from the URL and opens #console', async () => {
    history.replaceState(null, '', '/?ticket=T1#console');
    serve((m, p, b) => {
      if (m === 'GET' && p === '/info') return { status: 200, body: info };
      if (m === 'POST' && p === '/session/ticket') return (b as { ticket: string }).ticket === 'T1' ? { status: 200, body: { user: me, csrf_token: 'c1' } } : undefined;
      if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: [] } };
      return undefined;
    });
    const app = new ChatApp();
    await app.init();
    expect(calls.some((c) => c.method === 'POST' && c.path === '/session/ticket')).toBe(true);
    expect(calls.some((c) => c.path === '/session' && c.method === 'GET')).toBe(false);
    expect(location.search).toBe('');
    expect(location.hash).toBe('#console');
    expect(app.phase).toBe('app');
    expect(app.route).toEqual({ view: 'console' });
    expect(app.me?.username).toBe('prof');
    expect(app.api.csrf).toBe('c1');
    expect(FakeWS.last?.url).toMatch(/\/api\/v1\/ws$/);
    app.socket?.stop();
  });

  it('shows the join screen with the code from ?code= when there is no session', async () => {
    history.replaceState(null, '', '/?code=ABC123');
    serve((m, p) => {
      if (p === '/info') return { status: 200, body: info };
      if (m === 'GET' && p === '/session') return { status: 401, body: { error: { code: 'unauthorized', message: 'not signed in' } } };
      return undefined;
    });
    const app = new ChatApp();
    await app.init();
    expect(app.phase).toBe('join');
    expect(app.joinCode).toBe('ABC123');
    expect(app.info?.name).toBe('Physics 101');
    expect(app.toasts).toEqual([]); // a 401 on load is normal, not an error to show
  });

  it('a failed ticket falls back to an existing session and says why', async () => {
    history.replaceState(null, '', '/?ticket=used');
    serve((m, p) => {
      if (p === '/info') return { status: 200, body: info };
      if (m === 'POST' && p === '/session/ticket') return { status: 401, body: { error: { code: 'unauthorized', message: 'ticket expired or already used' } } };
      if (m === 'GET' && p === '/session') return { status: 401, body: { error: { code: 'unauthorized', message: 'no session' } } };
      return undefined;
    });
    const app = new ChatApp();
    await app.init();
    expect(app.phase).toBe('join');
    expect(app.toasts.map((t) => t.text)).toEqual(['Automatic sign-in failed: ticket expired or already used']);
    expect(location.search).toBe('');
  });
});

describe('ChatApp messages', () => {
  async function signedIn(convs: Conversation[], pages: Record<number, Message[]> = {}) {
    serveAs(me, info, (m, p, b) => {
      if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: convs } };
      const mm = /^\/conversations\/(\d+)\/messages/.exec(p);
      if (m === 'GET' && mm) return { status: 200, body: { messages: (pages[Number(mm[1])] ?? []).slice(-50), has_more: false } };
      if (m === 'GET' && /^\/conversations\/\d+\/members$/.test(p)) return { status: 200, body: { members: [{ user: me, role: 'member', joined_at: '' }, { user: other, role: 'member', joined_at: '' }] } };
      if (m === 'POST' && /\/read$/.test(p)) return { status: 204 };
      void b;
      return undefined;
    });
    return startApp(me);
  }

  it('opens a conversation from the newest page, subscribes after it, and sends with a pending echo', async () => {
    const { app, ws } = await signedIn([conv(1, { last_seq: 2 })], { 1: [msg(1, 1, other), msg(1, 2, other)] });
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    expect(app.rooms[1].messages.map((m) => m.seq)).toEqual([1, 2]);
    expect(ws.sent).toContainEqual({ type: 'subscribe', conversation_id: 1, after_seq: 2 });

    app.send(1, '  hello  ');
    expect(app.pendingFor(1).map((p) => p.body)).toEqual(['hello']);
    const send = ws.sent.find((f) => f.type === 'send')!;
    expect(send.body).toBe('hello');
    const stored = msg(1, 3, me, { body: 'hello', client_id: String(send.client_id) });
    // The message comes back on the stream and as an ack: shown once.
    ws.frame({ type: 'message', message: stored });
    ws.frame({ type: 'ack', client_id: send.client_id, message: stored });
    expect(app.pendingFor(1)).toEqual([]);
    expect(app.rooms[1].messages.map((m) => m.seq)).toEqual([1, 2, 3]);
    app.socket?.stop();
  });

  it('shows a rejected send as failed with the server message, and can discard it', async () => {
    const { app, ws } = await signedIn([conv(1)]);
    app.send(1, 'nope');
    const send = ws.sent.find((f) => f.type === 'send')!;
    ws.frame({ type: 'error', client_id: send.client_id, code: 'forbidden', message: 'This conversation is locked.' });
    expect(app.pendingFor(1)).toMatchObject([{ status: 'failed', error: 'This conversation is locked.' }]);
    app.discard(String(send.client_id));
    expect(app.pendingFor(1)).toEqual([]);
    app.socket?.stop();
  });

  it('counts unread from activity frames and clears deleted messages', async () => {
    const { app, ws } = await signedIn([conv(1, { last_seq: 5, unread: 2 }), conv(2, { last_seq: 1 })], { 2: [msg(2, 1, other)] });
    app.navigate({ view: 'chat', id: 2 });
    await flush();
    ws.frame({ type: 'activity', conversation_id: 1, last_seq: 7 });
    expect(app.conversation(1)?.unread).toBe(4);
    ws.frame({ type: 'message_deleted', conversation_id: 2, message_id: 201, seq: 1 });
    expect(app.rooms[2].messages[0]).toMatchObject({ deleted: true, body: '' });
    app.socket?.stop();
  });

  it('sends CSRF on unsafe calls made by the app', async () => {
    const { app } = await signedIn([conv(1)]);
    await app.api.markRead(1, 1);
    const post = calls.find((c) => c.method === 'POST' && c.path.endsWith('/read'))!;
    expect(post.headers['X-CSRF-Token']).toBe('tok');
    app.socket?.stop();
  });
});
