// Oversight (issue 6): class sessions, flags and reports, participation and transcript
// exports — the api.ts calls and the session_* / message_flagged frames in the state.
import { beforeEach, describe, expect, it } from 'vitest';
import { calls, flush, useFakeSocket, serveAs, startApp, recorder, type Route } from './fakes';
import { ApiError, participationCsvUrl, transcriptUrl, withMessageDefaults } from '../src/lib/api';
import { parseHash, routeHash } from '../src/lib/chat.svelte';
import type { Conversation, Flag, Message, User } from '../src/lib/types';

const prof: User = { id: 1, username: 'prof', display_name: 'Prof. Ada', role: 'admin', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const grace: User = { ...prof, id: 2, username: 'grace', display_name: 'Grace', role: 'user' };
const guest: User = { ...prof, id: 3, username: 'guest-3', display_name: 'Visitor', role: 'guest' };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 0, slow_mode_seconds: 0, unread: 0, member_role: 'member', ...over };
}
function msg(c: number, seq: number, sender: User, over: Partial<Message> = {}): Message {
  return { id: c * 100 + seq, conversation_id: c, seq, sender, body: `m${seq}`, created_at: '2026-11-29T09:30:00.000Z', client_id: null, deleted: false, pinned: false, ...over };
}
function flag(id: number, m: Message, over: Partial<Flag> = {}): Flag {
  return { id, kind: 'keyword', word: 'cheat', reason: null, reporter: null, message: m, conversation: { id: m.conversation_id, name: `C${m.conversation_id}` }, context: [], created_at: '2026-11-29T09:31:00.000Z', resolved_at: null, resolved_by: null, ...over };
}
const lecture = { id: 7, name: 'Lecture 5', started_at: '2026-11-29T09:00:00.000Z', ends_at: null };

// --- REST calls --------------------------------------------------------------------------

describe('Api oversight calls', () => {
  it('starts (with and without an end time), lists and ends class sessions', async () => {
    const s = { ...lecture, ended_at: null, active: true };
    const { api, calls } = recorder((c) => (c.method === 'GET' ? { status: 200, body: { sessions: [s] } } : { status: c.url.endsWith('/end') ? 200 : 201, body: s }));
    expect(await api.startSession('Lecture 5')).toEqual(s);
    expect(calls[0]).toMatchObject({ url: '/api/v1/sessions', method: 'POST', body: { name: 'Lecture 5' } });
    expect(calls[0].headers['X-CSRF-Token']).toBe('tok');
    await api.startSession('Lecture 6', '2026-11-29T11:00:00.000Z');
    expect(calls[1].body).toEqual({ name: 'Lecture 6', ends_at: '2026-11-29T11:00:00.000Z' });
    expect(await api.sessions()).toEqual([s]);
    expect(calls[2]).toMatchObject({ url: '/api/v1/sessions', method: 'GET' });
    await api.endSession(7);
    expect(calls[3]).toMatchObject({ url: '/api/v1/sessions/7/end', method: 'POST' });
    expect(calls[3].headers['X-CSRF-Token']).toBe('tok');
  });

  it('a second session while one runs is a 409 ApiError with the server message', async () => {
    const { api } = recorder(() => ({ status: 409, body: { error: { code: 'conflict', message: 'a session is already active' } } }));
    const err = await api.startSession('Again').catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 409, code: 'conflict', message: 'a session is already active' });
  });

  it('reports a message, lists flags by status and resolves one', async () => {
    const f = flag(4, msg(1, 2, grace));
    const { api, calls } = recorder((c) => (c.method === 'GET' ? { status: 200, body: { flags: [f] } } : { status: c.url.includes('report') ? 201 : 200, body: {} }));
    await api.report(102, 'rude');
    expect(calls[0]).toMatchObject({ url: '/api/v1/messages/102/report', method: 'POST', body: { reason: 'rude' } });
    expect(await api.flags()).toEqual(JSON.parse(JSON.stringify([f]), withMessageDefaults)); // the client fills omitted fields
    expect(calls[1].url).toBe('/api/v1/flags?status=open');
    await api.flags('resolved');
    expect(calls[2].url).toBe('/api/v1/flags?status=resolved');
    await api.resolveFlag(4, 'talked to them');
    expect(calls[3]).toMatchObject({ url: '/api/v1/flags/4/resolve', method: 'POST', body: { note: 'talked to them' } });
    await api.resolveFlag(5);
    expect(calls[4].body).toEqual({});
  });

  it('asks for participation as JSON with the range, and builds the download addresses', async () => {
    const rows = [{ user: grace, messages: 2, words: 5, conversations: [{ id: 1, name: 'C1', messages: 2 }], first_at: null, last_at: null }];
    const { api, calls } = recorder(() => ({ status: 200, body: { since: null, until: null, rows } }));
    expect(await api.participation()).toEqual({ since: null, until: null, rows });
    expect(calls[0].url).toBe('/api/v1/participation?format=json');
    await api.participation({ since: '2026-11-29T09:00:00.000Z', until: '' });
    expect(calls[1].url).toBe('/api/v1/participation?format=json&since=2026-11-29T09%3A00%3A00.000Z');
    expect(participationCsvUrl()).toBe('/api/v1/participation?format=csv');
    expect(participationCsvUrl({ since: '2026-11-29T09:00:00.000Z', until: '2026-11-29T10:00:00.000Z' })).toBe(
      '/api/v1/participation?format=csv&since=2026-11-29T09%3A00%3A00.000Z&until=2026-11-29T10%3A00%3A00.000Z',
    );
    expect(transcriptUrl(3, 'html')).toBe('/api/v1/conversations/3/transcript?format=html');
    expect(transcriptUrl(3, 'csv', 'http://127.0.0.1:9')).toBe('http://127.0.0.1:9/api/v1/conversations/3/transcript?format=csv');
  });

  it('an answer without rows is an empty table, not a crash', async () => {
    const { api } = recorder(() => ({ status: 200, body: {} }));
    expect(await api.participation()).toEqual({ since: null, until: null, rows: [] });
    const { api: api2 } = recorder(() => ({ status: 200, body: {} }));
    expect(await api2.flags()).toEqual([]);
    expect(await api2.sessions()).toEqual([]);
  });
});

// --- the application state ------------------------------------------------------------------


let infoSession: typeof lecture | null = null;
let openFlags: Flag[] = [];

async function signedIn(me: User, convs: Conversation[], pages: Record<number, Message[]> = {}, extra: Route = () => undefined) {
  serveAs(me, () => ({ name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true, session: infoSession }), (m, p, b) => {
    if (m === 'GET' && p === '/settings') return { status: 200, body: { registration: 'code', join_code: 'X', guest_access: true, guest_ttl_hours: 24, flag_words: ['cheat'] } };
    if (m === 'GET' && p === '/flags?status=open') return { status: 200, body: { flags: openFlags } };
    if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: convs } };
    const mm = /^\/conversations\/(\d+)\/messages/.exec(p);
    if (m === 'GET' && mm) return { status: 200, body: { messages: pages[Number(mm[1])] ?? [], has_more: false } };
    if (m === 'GET' && /^\/conversations\/\d+\/members$/.test(p)) return { status: 200, body: { members: [] } };
    if (m === 'POST' && /\/read$/.test(p)) return { status: 204 };
    return undefined;
  }, extra);
  const { app, ws } = await startApp(me);
  await flush();
  return { app, ws };
}

useFakeSocket();
beforeEach(() => {
  infoSession = null;
  openFlags = [];
});

describe('ChatApp oversight', () => {
  it('routes #flags and #participation', () => {
    expect(parseHash('#flags')).toEqual({ view: 'flags' });
    expect(parseHash('#participation')).toEqual({ view: 'participation' });
    expect(routeHash({ view: 'flags' })).toBe('#flags');
  });

  it('reads the running session from /info and follows session_started / session_ended', async () => {
    infoSession = lecture;
    const { app, ws } = await signedIn(grace, [conv(1)]);
    expect(app.classSession).toEqual(lecture);
    ws.frame({ type: 'session_ended', session: lecture });
    expect(app.classSession).toBeNull();
    expect(app.toasts.at(-1)?.text).toBe('The class session "Lecture 5" has ended.');
    const next = { ...lecture, id: 8, name: 'Lecture 6' };
    ws.frame({ type: 'session_started', session: next });
    expect(app.classSession).toEqual(next);
    // An end frame for another (older) session does not clear the running one.
    ws.frame({ type: 'session_ended', session: lecture });
    expect(app.classSession).toEqual(next);
    app.socket?.stop();
  });

  it('a guest cut off when the session ends goes back to the join screen with the reason', async () => {
    infoSession = lecture;
    const { app, ws } = await signedIn(guest, [conv(1)]);
    expect(app.phase).toBe('app');
    ws.frame({ type: 'session_ended', session: lecture });
    expect(app.toasts).toEqual([]); // the join screen says it instead
    infoSession = null;
    ws.onclose?.({ code: 4401, reason: '' });
    expect(app.phase).toBe('join');
    expect(app.me).toBeNull();
    expect(app.joinNotice).toMatch(/^The class session has ended/);
    await flush();
    expect(app.classSession).toBeNull();
  });

  it('a guest whose socket closes with 4401 before the frame still learns that the session ended', async () => {
    infoSession = lecture;
    const { app, ws } = await signedIn(guest, [conv(1)]);
    ws.onclose?.({ code: 4401, reason: '' });
    expect(app.joinNotice).toMatch(/^The class session has ended/);
  });

  it('a student whose session dies for another reason gets the usual toast, no session notice', async () => {
    const { app, ws } = await signedIn(grace, [conv(1)]);
    ws.onclose?.({ code: 4401, reason: '' });
    expect(app.phase).toBe('join');
    expect(app.joinNotice).toBe('');
    expect(app.toasts.at(-1)?.text).toBe('Your session has ended. Please sign in again.');
  });

  it('admins load the open flags and receive message_flagged live, without duplicates', async () => {
    const m1 = msg(1, 1, grace, { body: 'can I cheat' });
    openFlags = [flag(3, m1)];
    const { app, ws } = await signedIn(prof, [conv(1)]);
    expect(app.flags.map((f) => f.id)).toEqual([3]);
    const f5 = flag(5, msg(1, 2, grace), { kind: 'report', word: null, reason: 'rude', reporter: guest });
    ws.frame({ type: 'message_flagged', flag: f5 });
    ws.frame({ type: 'message_flagged', flag: f5 });
    expect(app.flags.map((f) => f.id)).toEqual([5, 3]);
    app.socket?.stop();
  });

  it('students ignore message_flagged (it is not for them)', async () => {
    const { app, ws } = await signedIn(grace, [conv(1)]);
    ws.frame({ type: 'message_flagged', flag: flag(5, msg(1, 2, grace)) });
    expect(app.flags).toEqual([]);
    expect(calls.some((c) => c.path.startsWith('/flags'))).toBe(false);
    app.socket?.stop();
  });

  it('deleting a flagged message deletes it, resolves every flag on it and marks it deleted', async () => {
    const m1 = msg(1, 1, grace, { body: 'can I cheat' });
    openFlags = [flag(3, m1), flag(4, m1, { kind: 'report', word: null, reason: 'cheating', reporter: guest }), flag(6, msg(1, 2, grace))];
    const { app } = await signedIn(prof, [conv(1)], { 1: [m1] }, (m, p) => {
      if (m === 'DELETE' && p === '/messages/101') return { status: 204 };
      if (m === 'POST' && p === '/flags/3/resolve') return { status: 200, body: {} };
      if (m === 'POST' && p === '/flags/4/resolve') return { status: 409, body: { error: { code: 'conflict', message: 'already resolved' } } };
      return undefined;
    });
    await app.deleteFlagged(app.flags.find((f) => f.id === 3)!);
    expect(calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`).sort()).toEqual(['DELETE /messages/101', 'POST /flags/3/resolve', 'POST /flags/4/resolve']);
    expect(app.flags.map((f) => f.id)).toEqual([6]);
    app.socket?.stop();
  });

  it('a second report of the same message is "already", other errors are thrown', async () => {
    let status = 201;
    const { app } = await signedIn(grace, [conv(1)], {}, (m, p) =>
      m === 'POST' && p === '/messages/102/report' ? { status, body: status === 201 ? {} : { error: { code: status === 409 ? 'conflict' : 'forbidden', message: 'no' } } } : undefined,
    );
    const m = msg(1, 2, prof);
    expect(await app.report(m, '  rude  ')).toBe('reported');
    expect(calls.at(-1)?.body).toEqual({ reason: 'rude' });
    status = 409;
    expect(await app.report(m, 'rude')).toBe('already');
    status = 403;
    await expect(app.report(m, 'rude')).rejects.toBeInstanceOf(ApiError);
    app.socket?.stop();
  });

  it('starting and ending a session updates the indicator at once', async () => {
    const s = { ...lecture, ended_at: null, active: true };
    const { app } = await signedIn(prof, [conv(1)], {}, (m, p) => {
      if (m === 'POST' && p === '/sessions') return { status: 201, body: s };
      if (m === 'POST' && p === '/sessions/7/end') return { status: 200, body: { ...s, active: false, ended_at: '2026-11-29T10:00:00.000Z' } };
      return undefined;
    });
    await app.startSession(' Lecture 5 ', null);
    expect(calls.find((c) => c.path === '/sessions')?.body).toEqual({ name: 'Lecture 5' });
    expect(app.classSession).toEqual(lecture);
    await app.endSession(7);
    expect(app.classSession).toBeNull();
    app.socket?.stop();
  });
});
