// Moderation (issue 6): the api.ts calls, the refusal parsers, the socket's
// handling of slow mode, and the frames/refusals in the application state.
import { describe, expect, it } from 'vitest';
import { calls, flush, useFakeSocket, serveAs, startApp, recorder, SockWS, type Route } from './fakes';
import { ChatSocket, errorText, isPausedRefusal, mutedUntil, readableRefusal, slowModeWait, ApiError, type PendingSend } from '../src/lib/api';
import { parseHash } from '../src/lib/chat.svelte';
import type { Conversation, Message, ServerFrame, User } from '../src/lib/types';

const prof: User = { id: 1, username: 'prof', display_name: 'Prof. Ada', role: 'admin', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const grace: User = { ...prof, id: 2, username: 'grace', display_name: 'Grace', role: 'user' };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 0, slow_mode_seconds: 0, unread: 0, member_role: 'member', ...over };
}
function msg(c: number, seq: number, sender: User, over: Partial<Message> = {}): Message {
  return { id: c * 100 + seq, conversation_id: c, seq, sender, body: `m${seq}`, created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false, pinned: false, ...over };
}

// --- REST calls --------------------------------------------------------------------

describe('Api moderation calls', () => {
  it('mutes, lists mutes and unmutes with CSRF', async () => {
    const { api, calls } = recorder((c) => {
      if (c.method === 'POST') return { status: 201, body: { user_id: 2, until: '2026-11-29T10:05:00.000Z' } };
      if (c.method === 'DELETE') return { status: 204 };
      return { status: 200, body: { mutes: [{ user: grace, until: '2026-11-29T10:05:00.000Z' }] } };
    });
    expect(await api.mute(3, 2, 15)).toEqual({ user_id: 2, until: '2026-11-29T10:05:00.000Z' });
    expect(calls[0]).toMatchObject({ url: '/api/v1/conversations/3/mutes', method: 'POST', body: { user_id: 2, minutes: 15 } });
    expect(calls[0].headers['X-CSRF-Token']).toBe('tok');
    expect(await api.mutes(3)).toEqual([{ user: grace, until: '2026-11-29T10:05:00.000Z' }]);
    expect(calls[1]).toMatchObject({ url: '/api/v1/conversations/3/mutes', method: 'GET' });
    expect(await api.unmute(3, 2)).toBeUndefined();
    expect(calls[2]).toMatchObject({ url: '/api/v1/conversations/3/mutes/2', method: 'DELETE', body: undefined });
    expect(calls[2].headers['X-CSRF-Token']).toBe('tok');
  });

  it('sets slow mode with PATCH on the conversation', async () => {
    const { api, calls } = recorder(() => ({ status: 200, body: conv(4, { slow_mode_seconds: 30 }) }));
    expect((await api.setSlowMode(4, 30)).slow_mode_seconds).toBe(30);
    expect(calls[0]).toMatchObject({ url: '/api/v1/conversations/4', method: 'PATCH', body: { slow_mode_seconds: 30 } });
  });

  it('pins, unpins and lists pins', async () => {
    const { api, calls } = recorder((c) => (c.method === 'GET' ? { status: 200, body: { messages: [msg(1, 3, grace, { pinned: true })] } } : { status: 204 }));
    await api.pin(103);
    await api.unpin(103);
    const pins = await api.pins(1);
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual(['POST /api/v1/messages/103/pin', 'DELETE /api/v1/messages/103/pin', 'GET /api/v1/conversations/1/pins']);
    expect(pins.map((m) => m.id)).toEqual([103]);
  });

  it('posts an announcement and reads the messages it made', async () => {
    const { api, calls } = recorder(() => ({ status: 201, body: { messages: [msg(1, 9, prof, { body: 'Quiz at 10' }), msg(2, 4, prof, { body: 'Quiz at 10' })] } }));
    const posted = await api.announce('Quiz at 10');
    expect(calls[0]).toMatchObject({ url: '/api/v1/announcements', method: 'POST', body: { body: 'Quiz at 10' } });
    expect(posted.map((m) => m.conversation_id)).toEqual([1, 2]);
  });

  it('builds audit queries with filters and before_id, and tolerates missing fields', async () => {
    const { api, calls } = recorder((c) => (c.url.includes('before_id') ? { status: 200, body: {} } : { status: 200, body: { entries: [{ id: 9, actor: prof, action: 'member.mute', target_type: 'user', target_id: 2, details: {}, created_at: '' }], has_more: true } }));
    const first = await api.audit();
    expect(calls[0].url).toBe('/api/v1/audit');
    expect(first).toMatchObject({ has_more: true, entries: [{ id: 9 }] });
    const next = await api.audit({ action: 'member.mute', actor_id: 1, limit: 50, before_id: 9 });
    expect(calls[1].url).toBe('/api/v1/audit?action=member.mute&actor_id=1&limit=50&before_id=9');
    expect(next).toEqual({ entries: [], has_more: false });
  });

  it('sends paused and dm_policy in the settings patch', async () => {
    const { api, calls } = recorder(() => ({ status: 200, body: { registration: 'code', join_code: 'X', guest_access: true, guest_ttl_hours: 24, paused: true, dm_policy: 'staff' } }));
    const s = await api.updateSettings({ paused: true, dm_policy: 'staff' });
    expect(calls[0]).toMatchObject({ method: 'PATCH', url: '/api/v1/settings', body: { paused: true, dm_policy: 'staff' } });
    expect(s).toMatchObject({ paused: true, dm_policy: 'staff' });
  });

  it('shows a REST slow-mode refusal once, without a second "try again"', async () => {
    const { api } = recorder(() => ({ status: 429, body: { error: { code: 'rate_limited', message: 'slow mode: wait 30 s' } }, headers: { 'Retry-After': '30' } }));
    const err = await api.postMessage(1, 'x', 'c').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(errorText(err)).toBe('slow mode: wait 30 s');
  });
});

describe('refusal parsers', () => {
  it('reads the wait of slow mode', () => {
    expect(slowModeWait('slow mode: wait 12 s')).toBe(12);
    expect(slowModeWait('Slow mode: wait 1s')).toBe(1);
    expect(slowModeWait('Too many messages.')).toBeNull();
    expect(slowModeWait(undefined)).toBeNull();
  });

  it('reads the end of a mute in RFC 3339 and in Go’s default format', () => {
    expect(mutedUntil('you are muted in this conversation until 2026-11-29T11:17:25.958Z')).toBe('2026-11-29T11:17:25.958Z');
    expect(mutedUntil('you are muted in this conversation until 2026-11-29T12:17:25+01:00.')).toBe('2026-11-29T11:17:25.000Z');
    expect(mutedUntil('you are muted in this conversation until 2026-11-29 11:17:25 +0000 UTC')).toBe('2026-11-29T11:17:25.000Z');
    expect(mutedUntil('you are muted until later')).toBeNull();
    expect(mutedUntil('the class is paused by the professor')).toBeNull();
  });

  it('recognises the pause refusal', () => {
    expect(isPausedRefusal('the class is paused by the professor')).toBe(true);
    expect(isPausedRefusal('This conversation is locked.')).toBe(false);
  });

  it('shows times in refusals as local clock time, and leaves other text alone', () => {
    const s = readableRefusal('you are muted in this conversation until 2026-11-29T11:17:25.958Z');
    expect(s).toMatch(/^you are muted in this conversation until /);
    expect(s).not.toContain('2026-11-29T');
    expect(readableRefusal('slow mode: wait 5 s')).toBe('slow mode: wait 5 s');
  });
});

// --- the socket ------------------------------------------------------------------------

describe('ChatSocket and slow mode', () => {
  it('reports a slow-mode refusal and drops it from the outbox instead of retrying every second', () => {
    const timers: unknown[] = [];
    const frames: ServerFrame[] = [];
    let saved: PendingSend[] = [];
    const s = new ChatSocket({
      url: 'ws://t/api/v1/ws',
      WebSocketImpl: SockWS as unknown as new (url: string) => SockWS,
      onFrame: (f) => frames.push(f),
      setTimer: (fn) => (timers.push(fn), timers.length),
      clearTimer: () => undefined,
      persist: { load: () => saved, save: (l) => (saved = [...l]) },
    });
    s.start();
    const ws = SockWS.all.at(-1)!;
    ws.readyState = 1;
    ws.frame({ type: 'ready', user: grace });
    s.send(1, 'too soon', 'c1');
    ws.frame({ type: 'error', client_id: 'c1', code: 'rate_limited', message: 'slow mode: wait 25 s' });
    expect(s.pending()).toEqual([]);
    expect(saved).toEqual([]);
    expect(timers.length).toBe(0);
    expect(frames.at(-1)).toMatchObject({ type: 'error', code: 'rate_limited', message: 'slow mode: wait 25 s' });
    s.stop();
  });
});

// --- the application state ------------------------------------------------------------------


const info = { name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true };
const settings = { registration: 'code', join_code: 'X', guest_access: true, guest_ttl_hours: 24, paused: true, dm_policy: 'anyone' };

async function signedIn(me: User, convs: Conversation[], pages: Record<number, Message[]> = {}, extra: Route = () => undefined) {
  serveAs(me, info, (m, p, b) => {
    if (m === 'GET' && p === '/settings') return me.role === 'admin' ? { status: 200, body: settings } : { status: 403, body: { error: { code: 'forbidden', message: 'admins only' } } };
    if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: convs } };
    const mm = /^\/conversations\/(\d+)\/messages/.exec(p);
    if (m === 'GET' && mm) return { status: 200, body: { messages: pages[Number(mm[1])] ?? [], has_more: false } };
    if (m === 'GET' && /^\/conversations\/\d+\/members$/.test(p)) return { status: 200, body: { members: [{ user: prof, role: 'member', joined_at: '' }, { user: grace, role: 'member', joined_at: '' }] } };
    if (m === 'POST' && /\/read$/.test(p)) return { status: 204 };
    return undefined;
  }, extra);
  const { app, ws } = await startApp(me);
  await flush();
  return { app, ws };
}

useFakeSocket();

describe('ChatApp moderation', () => {
  it('routes #audit', () => {
    expect(parseHash('#audit')).toEqual({ view: 'audit' });
  });

  it('member_muted frames mute and unmute; a muted student cannot write and is told until when', async () => {
    const { app, ws } = await signedIn(grace, [conv(1)]);
    expect(app.blockReason(app.conversation(1))).toBe('');
    const until = new Date(Date.now() + 15 * 60_000).toISOString();
    ws.frame({ type: 'member_muted', conversation_id: 1, user_id: grace.id, until });
    expect(app.mutedUntil(1, grace.id)).toBe(until);
    expect(app.blockReason(app.conversation(1))).toMatch(/^You are muted in this conversation until /);
    expect(app.toasts.at(-1)?.text).toMatch(/^You are muted in C1 until/);
    ws.frame({ type: 'member_muted', conversation_id: 1, user_id: grace.id, until: null });
    expect(app.mutedUntil(1, grace.id)).toBeNull();
    expect(app.blockReason(app.conversation(1))).toBe('');
    // A mute that has already ended counts as none.
    ws.frame({ type: 'member_muted', conversation_id: 1, user_id: 7, until: new Date(Date.now() - 1000).toISOString() });
    expect(app.mutedUntil(1, 7)).toBeNull();
    app.socket?.stop();
  });

  it('a refused send shows the server reason and teaches the client: muted, paused, slow mode', async () => {
    const { app, ws } = await signedIn(grace, [conv(1, { slow_mode_seconds: 30 })]);
    const sendAndRefuse = (code: string, message: string) => {
      app.send(1, 'hello');
      const send = ws.sent.filter((f) => f.type === 'send').at(-1)!;
      ws.frame({ type: 'error', client_id: send.client_id, code, message });
      return app.pendingFor(1).find((p) => p.client_id === send.client_id)!;
    };
    const until = new Date(Date.now() + 5 * 60_000).toISOString();
    const p1 = sendAndRefuse('forbidden', `you are muted in this conversation until ${until}`);
    expect(p1.status).toBe('failed');
    expect(p1.error).toMatch(/^you are muted in this conversation until \S/);
    expect(p1.error).not.toContain('T'); // local clock time, not the wire format
    expect(app.mutedUntil(1, grace.id)).toBe(until);

    const p2 = sendAndRefuse('rate_limited', 'slow mode: wait 25 s');
    expect(p2).toMatchObject({ status: 'failed', error: 'slow mode: wait 25 s' });
    expect(app.slowWait(1)).toBeGreaterThanOrEqual(24);
    expect(app.slowWait(1)).toBeLessThanOrEqual(25);

    expect(app.paused).toBe(false);
    const p3 = sendAndRefuse('forbidden', 'the class is paused by the professor');
    expect(p3.error).toBe('the class is paused by the professor');
    expect(app.paused).toBe(true);
    app.socket?.stop();
  });

  it('class_paused frames pause and resume the class for students; admins still write', async () => {
    const { app, ws } = await signedIn(grace, [conv(1)]);
    ws.frame({ type: 'class_paused', paused: true });
    expect(app.paused).toBe(true);
    expect(app.blockReason(app.conversation(1))).toMatch(/paused the class/);
    ws.frame({ type: 'class_paused', paused: false });
    expect(app.paused).toBe(false);
    expect(app.blockReason(app.conversation(1))).toBe('');
    app.socket?.stop();

    const admin = await signedIn(prof, [conv(1)]);
    // Admins read "paused" from the settings at start-up.
    expect(admin.app.paused).toBe(true);
    expect(admin.app.blockReason(admin.app.conversation(1))).toBe('');
    admin.app.socket?.stop();
  });

  it('message_pinned frames mark the message and keep the pinned list, newest pin first', async () => {
    const m1 = msg(1, 1, grace);
    const m2 = msg(1, 2, grace);
    const { app, ws } = await signedIn(grace, [conv(1, { last_seq: 2 })], { 1: [m1, m2] }, (m, p) => (m === 'GET' && p === '/conversations/1/pins' ? { status: 200, body: { messages: [{ ...m1, pinned: true }] } } : undefined));
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    await app.loadPins(1);
    expect(app.pins[1].map((m) => m.id)).toEqual([m1.id]);
    ws.frame({ type: 'message_pinned', conversation_id: 1, message_id: m2.id, pinned: true });
    expect(app.rooms[1].messages.find((m) => m.id === m2.id)?.pinned).toBe(true);
    expect(app.pins[1].map((m) => m.id)).toEqual([m2.id, m1.id]);
    ws.frame({ type: 'message_pinned', conversation_id: 1, message_id: m1.id, pinned: false });
    expect(app.pins[1].map((m) => m.id)).toEqual([m2.id]);
    expect(app.rooms[1].messages.find((m) => m.id === m1.id)?.pinned).toBe(false);
    // Deleting a pinned message unpins it.
    ws.frame({ type: 'message_deleted', conversation_id: 1, message_id: m2.id, seq: 2 });
    expect(app.pins[1]).toEqual([]);
    expect(app.rooms[1].messages.find((m) => m.id === m2.id)).toMatchObject({ deleted: true, pinned: false });
    app.socket?.stop();
  });

  it('a professor mutes, unmutes, sets slow mode, pins and announces through the API', async () => {
    const until = new Date(Date.now() + 60 * 60_000).toISOString();
    const m1 = msg(1, 1, grace);
    const { app } = await signedIn(prof, [conv(1, { last_seq: 1 })], { 1: [m1] }, (m, p, b) => {
      if (m === 'POST' && p === '/conversations/1/mutes') return { status: 201, body: { user_id: (b as { user_id: number }).user_id, until } };
      if (m === 'DELETE' && p === '/conversations/1/mutes/2') return { status: 204 };
      if (m === 'GET' && p === '/conversations/1/mutes') return { status: 200, body: { mutes: [{ user: grace, until }] } };
      if (m === 'PATCH' && p === '/conversations/1') return { status: 200, body: conv(1, { slow_mode_seconds: (b as { slow_mode_seconds: number }).slow_mode_seconds, member_role: null }) };
      if (p === `/messages/${m1.id}/pin`) return { status: 204 };
      if (m === 'POST' && p === '/announcements') return { status: 201, body: { messages: [msg(1, 2, prof, { body: (b as { body: string }).body })] } };
      return undefined;
    });
    app.navigate({ view: 'chat', id: 1 });
    await flush();
    expect(await app.mute(1, grace.id, 60)).toBe(until);
    expect(app.mutedUntil(1, grace.id)).toBe(until);
    await app.unmute(1, grace.id);
    expect(app.mutedUntil(1, grace.id)).toBeNull();
    await app.loadMutes(1);
    expect(app.mutedUntil(1, grace.id)).toBe(until);

    await app.setSlowMode(1, 30);
    expect(app.conversation(1)?.slow_mode_seconds).toBe(30);
    expect(app.conversation(1)?.member_role).toBe('member'); // the PATCH answer's null role is not ours

    await app.setPinned(app.rooms[1].messages[0], true);
    expect(app.rooms[1].messages[0].pinned).toBe(true);
    expect(calls.some((c) => c.method === 'POST' && c.path === `/messages/${m1.id}/pin`)).toBe(true);

    const posted = await app.announce('  Quiz at 10  ');
    expect(calls.find((c) => c.path === '/announcements')?.body).toEqual({ body: 'Quiz at 10' });
    expect(posted).toHaveLength(1);
    expect(app.rooms[1].messages.map((m) => m.seq)).toEqual([1, 2]);
    app.socket?.stop();
  });

  it('after an ack in a slow-mode conversation a member sees the wait; owners do not', async () => {
    const { app, ws } = await signedIn(grace, [conv(1, { slow_mode_seconds: 10 }), conv(2, { slow_mode_seconds: 10, member_role: 'owner' })]);
    for (const id of [1, 2]) {
      app.send(id, 'hi');
      const send = ws.sent.filter((f) => f.type === 'send').at(-1)!;
      ws.frame({ type: 'ack', client_id: send.client_id, message: msg(id, 1, grace, { client_id: String(send.client_id) }) });
    }
    expect(app.slowWait(1)).toBe(10);
    expect(app.slowWait(2)).toBe(0);
    app.socket?.stop();
  });
});
