// Everyday features (issue 8): edit, reactions, replies/threads, mentions, attachments —
// the api.ts calls, the upload over a fake XMLHttpRequest, the socket's outbox, the frames
// in the application state, and mention highlighting inside the Markdown pipeline.
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeWS, calls, flush, useFakeSocket, serveAs, startApp, recorder, SockWS, type Route } from './fakes';
import { Api, ApiError, ChatSocket, sendFrame, type PendingSend, type XhrLike } from '../src/lib/api';
import { renderMessage, type MentionContext } from '../src/lib/render';
import { REACTIONS, insertMention, isSingleEmoji, mentionOptions, mentionQuery } from '../src/lib/everyday';
import { Uploads, humanSize } from '../src/lib/uploads.svelte';
import { setLanguage } from '../src/lib/i18n.svelte';
import type { Attachment, Conversation, Member, Message, User } from '../src/lib/types';

const prof: User = { id: 1, username: 'prof', display_name: 'Prof. Ada', role: 'admin', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const grace: User = { ...prof, id: 2, username: 'grace', display_name: 'Grace Hopper', role: 'user' };
const alan: User = { ...prof, id: 3, username: 'alan.t', display_name: 'Alan Turing', role: 'user' };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 0, unread: 0, member_role: 'member', ...over };
}
function msg(c: number, seq: number, sender: User, over: Partial<Message> = {}): Message {
  return {
    id: c * 100 + seq,
    conversation_id: c,
    seq,
    sender,
    body: `m${seq}`,
    created_at: new Date().toISOString(),
    client_id: null,
    deleted: false,
    edited_at: null,
    reply_to: null,
    reply_count: 0,
    mentions: [],
    mention_all: false,
    reactions: [],
    attachments: [],
    ...over,
  };
}
const png: Attachment = { id: 7, name: 'plot.png', content_type: 'image/png', size: 2048, width: 640, height: 480, inline: true, url: '/api/v1/attachments/7', thumbnail_url: '/api/v1/attachments/7/thumbnail' };

// --- REST ------------------------------------------------------------------------------

describe('Api everyday calls', () => {
  it('edits with PATCH and the CSRF header, and reads the edit history', async () => {
    const { api, calls: log } = recorder((c) =>
      c.method === 'PATCH' ? { status: 200, body: msg(1, 3, grace, { body: 'fixed', edited_at: '2026-11-29T10:00:00Z' }) } : { status: 200, body: { edits: [{ body: 'fxied', edited_at: '2026-11-29T10:00:00Z' }] } },
    );
    const m = await api.editMessage(103, 'fixed');
    expect(m.edited_at).toBe('2026-11-29T10:00:00Z');
    expect(log[0]).toMatchObject({ url: '/api/v1/messages/103', method: 'PATCH', body: { body: 'fixed' } });
    expect(log[0].headers['X-CSRF-Token']).toBe('tok');
    expect(await api.messageEdits(103)).toEqual([{ body: 'fxied', edited_at: '2026-11-29T10:00:00Z' }]);
    expect(log[1]).toMatchObject({ url: '/api/v1/messages/103/edits', method: 'GET' });
    expect(log[1].headers['X-CSRF-Token']).toBeUndefined();
  });

  it('reacts with PUT and unreacts with DELETE, the emoji path-escaped', async () => {
    const list = [{ emoji: '👍', count: 1, user_ids: [2] }];
    const { api, calls: log } = recorder(() => ({ status: 200, body: { reactions: list } }));
    expect(await api.react(103, '👍')).toEqual(list);
    expect(await api.unreact(103, '❤️')).toEqual(list);
    expect(await api.react(103, '#/?')).toEqual(list);
    expect(log.map((c) => `${c.method} ${c.url}`)).toEqual([
      'PUT /api/v1/messages/103/reactions/%F0%9F%91%8D',
      'DELETE /api/v1/messages/103/reactions/%E2%9D%A4%EF%B8%8F',
      'PUT /api/v1/messages/103/reactions/%23%2F%3F',
    ]);
    expect(log.every((c) => c.headers['X-CSRF-Token'] === 'tok' && c.body === undefined)).toBe(true);
  });

  it('lists replies and posts with reply_to and attachment_ids (only when set)', async () => {
    const parent = msg(1, 3, grace, { reply_count: 1 });
    const { api, calls: log } = recorder((c) => (c.method === 'GET' ? { status: 200, body: { message: parent, replies: [msg(1, 4, prof, { reply_to: { id: parent.id, seq: 3, sender: grace, body: 'm3', deleted: false } })], has_more: false } } : { status: 201, body: msg(1, 5, grace) }));
    const r = await api.replies(103, { limit: 50, after_seq: 3 });
    expect(log[0].url).toBe('/api/v1/messages/103/replies?limit=50&after_seq=3');
    expect(r.replies).toHaveLength(1);
    expect(r.message.id).toBe(103);
    await api.postMessage(1, 'see this', 'c1', { reply_to: 103, attachment_ids: [7, 8] });
    expect(log[1]).toMatchObject({ url: '/api/v1/conversations/1/messages', method: 'POST', body: { body: 'see this', client_id: 'c1', reply_to: 103, attachment_ids: [7, 8] } });
    await api.postMessage(1, 'plain', 'c2', { attachment_ids: [] });
    expect(log[2].body).toEqual({ body: 'plain', client_id: 'c2' });
  });

  it('shows the server refusal text for a reaction (rate limited)', async () => {
    const { api } = recorder(() => ({ status: 429, body: { error: { code: 'rate_limited', message: 'too many messages' } } }));
    await expect(api.react(1, '👍')).rejects.toMatchObject({ status: 429, code: 'rate_limited', message: 'too many messages' });
  });
});

// --- upload over XMLHttpRequest ----------------------------------------------------------------

class FakeXHR implements XhrLike {
  static all: FakeXHR[] = [];
  status = 0;
  responseText = '';
  withCredentials = false;
  upload: { onprogress: ((e: { loaded: number; total: number; lengthComputable?: boolean }) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  onabort: (() => void) | null = null;
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: unknown = undefined;
  aborted = false;
  constructor() {
    FakeXHR.all.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(n: string, v: string) {
    this.headers[n] = v;
  }
  send(b: unknown) {
    this.body = b;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ loaded, total, lengthComputable: true });
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = body === undefined ? '' : JSON.stringify(body);
    this.onload?.();
  }
}

describe('Api.upload', () => {
  beforeEach(() => (FakeXHR.all = []));

  it('posts the raw file with its type, the name and conversation in the query, and CSRF; reports progress', async () => {
    const api = new Api('');
    api.csrf = 'tok';
    const file = new File([new Uint8Array(1000)], 'lab report #1.pdf', { type: 'application/pdf' });
    const seen: [number, number][] = [];
    const up = api.upload(4, file, (l, t) => seen.push([l, t]), FakeXHR);
    const x = FakeXHR.all[0];
    expect(x.method).toBe('POST');
    expect(x.url).toBe('/api/v1/attachments?conversation_id=4&name=lab%20report%20%231.pdf');
    expect(x.headers['Content-Type']).toBe('application/pdf');
    expect(x.headers['X-CSRF-Token']).toBe('tok');
    expect(x.body).toBe(file);
    x.progress(400, 1000);
    expect(seen).toEqual([[400, 1000]]);
    const att = { ...png, id: 9, name: 'lab report #1.pdf', inline: false };
    x.answer(201, att);
    expect(await up.promise).toEqual(att);
    expect(seen.at(-1)).toEqual([1000, 1000]);
  });

  it('rejects with the error envelope (413, 400) and on network failure', async () => {
    const api = new Api('');
    const big = api.upload(1, new File(['x'], 'big.bin'), undefined, FakeXHR);
    FakeXHR.all[0].answer(413, { error: { code: 'too_large', message: 'the file is larger than 10 MiB' } });
    await expect(big.promise).rejects.toMatchObject({ status: 413, code: 'too_large', message: 'the file is larger than 10 MiB' });
    expect(FakeXHR.all[0].headers['Content-Type']).toBe('application/octet-stream');
    const exe = api.upload(1, new File(['MZ'], 'x.exe'), undefined, FakeXHR);
    FakeXHR.all[1].answer(400, { error: { code: 'bad_request', message: 'executable files are not allowed' } });
    await expect(exe.promise).rejects.toThrow('executable files are not allowed');
    const bare = api.upload(1, new File(['x'], 'a.txt'), undefined, FakeXHR);
    FakeXHR.all[2].answer(413, undefined);
    await expect(bare.promise).rejects.toThrow('The file is too large.');
    const net = api.upload(1, new File(['x'], 'a.txt'), undefined, FakeXHR);
    FakeXHR.all[3].onerror?.();
    await expect(net.promise).rejects.toBeInstanceOf(ApiError);
  });

  it('the tray shows progress, keeps finished ids for Send and errors for reading; remove aborts', async () => {
    const api = new Api('');
    const u = new Uploads(api, FakeXHR);
    u.add(5, [new File([new Uint8Array(100)], 'a.png', { type: 'image/png' }), new File([new Uint8Array(50)], 'b.zip'), new File([new Uint8Array(10)], 'c.txt')]);
    expect(u.tray(5).map((x) => x.status)).toEqual(['uploading', 'uploading', 'uploading']);
    expect(u.uploading(5)).toBe(true);
    FakeXHR.all[0].progress(50, 100);
    expect(u.tray(5)[0].loaded).toBe(50);
    FakeXHR.all[0].answer(201, { ...png, id: 11 });
    FakeXHR.all[1].answer(413, { error: { code: 'too_large', message: 'over your upload quota' } });
    await flush();
    expect(u.tray(5).map((x) => x.status)).toEqual(['done', 'error', 'uploading']);
    expect(u.tray(5)[1].error).toBe('over your upload quota');
    expect(u.ready(5)).toEqual([11]);
    u.remove(5, u.tray(5)[2].key);
    expect(FakeXHR.all[2].aborted).toBe(true);
    await flush();
    expect(u.uploading(5)).toBe(false);
    u.sent(5);
    expect(u.tray(5).map((x) => x.name)).toEqual(['b.zip']);
    expect(u.ready(5)).toEqual([]);
  });

  it('refuses more than 10 files per message and empty files', () => {
    const u = new Uploads(new Api(''), FakeXHR);
    u.add(1, Array.from({ length: 11 }, (_, i) => new File(['x'], `f${i}.txt`)));
    u.add(1, [new File([], 'empty.txt')]);
    const t = u.tray(1);
    expect(t.filter((x) => x.status === 'uploading')).toHaveLength(10);
    expect(t[10].error).toMatch(/At most 10/);
    expect(t[11].error).toMatch(/empty/);
    expect(FakeXHR.all).toHaveLength(10);
  });

  it('humanSize, in the page language through Intl unit formatting', () => {
    expect(humanSize(0)).toBe('0 byte');
    expect(humanSize(1536)).toBe('1.5 kB');
    expect(humanSize(1024)).toBe('1 kB');
    expect(humanSize(10 * 1024 * 1024)).toBe('10 MB');
    expect(humanSize(-1)).toBe('');
    try {
      setLanguage('de', false);
      expect(humanSize(1536)).toBe('1,5 kB');
      setLanguage('fr', false);
      expect(humanSize(1536)).toBe('1,5\u202fko'); // French puts a narrow no-break space before the unit
      expect(humanSize(2.5 * 1024 ** 3)).toBe('2,5\u202fGo');
    } finally {
      setLanguage('en', false);
    }
  });
});

// --- the socket keeps reply_to and attachment_ids ----------------------------------------------

describe('ChatSocket outbox with replies and attachments', () => {
  it('sends reply_to and attachment_ids, persists them, and resends them after a reconnect', () => {
    let saved: PendingSend[] = [];
    const timers: (() => void)[] = [];
    const s = new ChatSocket({
      url: 'ws://t/api/v1/ws',
      WebSocketImpl: SockWS as unknown as new (url: string) => SockWS,
      onFrame: () => undefined,
      setTimer: (fn) => (timers.push(fn), timers.length),
      clearTimer: () => undefined,
      random: () => 0,
      persist: { load: () => saved, save: (l) => (saved = [...l]) },
    });
    s.start();
    const ws1 = SockWS.all.at(-1)!;
    ws1.readyState = 1;
    ws1.frame({ type: 'ready', user: grace });
    s.send(1, 'answer', 'c1', { reply_to: 103, attachment_ids: [7] });
    s.send(1, 'plain', 'c2');
    expect(ws1.sent.filter((f) => f.type === 'send')).toEqual([
      { type: 'send', conversation_id: 1, client_id: 'c1', body: 'answer', reply_to: 103, attachment_ids: [7] },
      { type: 'send', conversation_id: 1, client_id: 'c2', body: 'plain' },
    ]);
    expect(saved[0]).toMatchObject({ client_id: 'c1', reply_to: 103, attachment_ids: [7] });
    // The connection drops before any ack; the new one resends both, with their fields.
    ws1.readyState = 3;
    ws1.onclose?.({ code: 1006, reason: '' });
    timers.shift()!();
    const ws2 = SockWS.all.at(-1)!;
    expect(ws2).not.toBe(ws1);
    ws2.readyState = 1;
    ws2.frame({ type: 'ready', user: grace });
    expect(ws2.sent.filter((f) => f.type === 'send')).toEqual([
      { type: 'send', conversation_id: 1, client_id: 'c1', body: 'answer', reply_to: 103, attachment_ids: [7] },
      { type: 'send', conversation_id: 1, client_id: 'c2', body: 'plain' },
    ]);
    s.stop();
  });

  it('a reload restores the outbox with its reply and attachments (persisted record)', () => {
    const stored: PendingSend[] = [{ client_id: 'c9', conversation_id: 2, body: '', created_at: '', reply_to: 5, attachment_ids: [1, 2] }];
    const s = new ChatSocket({ url: 'ws://t', WebSocketImpl: SockWS as unknown as new (url: string) => SockWS, onFrame: () => undefined, persist: { load: () => stored, save: () => undefined } });
    s.start();
    const ws = SockWS.all.at(-1)!;
    ws.readyState = 1;
    ws.frame({ type: 'ready', user: grace });
    expect(ws.sent.find((f) => f.type === 'send')).toEqual(sendFrame(stored[0]));
    expect(ws.sent.find((f) => f.type === 'send')).toMatchObject({ reply_to: 5, attachment_ids: [1, 2], body: '' });
    s.stop();
  });
});

// --- application state -------------------------------------------------------------------------

const info = { name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true };
const members: Member[] = [
  { user: prof, role: 'owner', joined_at: '' },
  { user: grace, role: 'member', joined_at: '' },
  { user: alan, role: 'member', joined_at: '' },
];

async function signedIn(me: User, convs: Conversation[], pages: Record<number, Message[]> = {}, extra: Route = () => undefined) {
  serveAs(me, info, (m, p, b) => {
    if (m === 'GET' && p === '/settings') return { status: 200, body: { registration: 'code', join_code: 'X', guest_access: true, guest_ttl_hours: 24 } };
    if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: convs } };
    const mm = /^\/conversations\/(\d+)\/messages/.exec(p);
    if (m === 'GET' && mm) return { status: 200, body: { messages: pages[Number(mm[1])] ?? [], has_more: false } };
    if (m === 'GET' && /^\/conversations\/\d+\/members$/.test(p)) return { status: 200, body: { members } };
    if (m === 'POST' && /\/read$/.test(p)) return { status: 204 };
    if (m === 'GET' && p === '/flags?status=open') return { status: 200, body: { flags: [] } };
    return undefined;
  }, extra);
  const { app, ws } = await startApp(me);
  await flush();
  app.navigate({ view: 'chat', id: 1 });
  await flush();
  return { app, ws };
}

useFakeSocket();

describe('ChatApp everyday frames', () => {
  it('message_edited replaces the text, sets edited_at, and updates quotes of it', async () => {
    const m1 = msg(1, 1, grace, { body: 'teh answer' });
    const m2 = msg(1, 2, prof, { body: 'why?', reply_to: { id: m1.id, seq: 1, sender: grace, body: 'teh answer', deleted: false } });
    const { app, ws } = await signedIn(prof, [conv(1, { last_seq: 2 })], { 1: [m1, m2] });
    ws.frame({ type: 'message_edited', conversation_id: 1, message: { ...m1, body: 'the answer', edited_at: '2026-11-29T10:01:00Z', mentions: [1] } });
    const got = app.rooms[1].messages[0];
    expect(got).toMatchObject({ body: 'the answer', edited_at: '2026-11-29T10:01:00Z', mentions: [1] });
    expect(app.rooms[1].messages[1].reply_to?.body).toBe('the answer');
    expect(app.lastMessage[1]?.id).toBe(m2.id);
    app.socket?.stop();
  });

  it('reaction frames replace the whole list (never merge); toggling uses PUT then DELETE', async () => {
    const m1 = msg(1, 1, grace, { reactions: [{ emoji: '👍', count: 2, user_ids: [2, 3] }] });
    const { app, ws } = await signedIn(grace, [conv(1, { last_seq: 1 })], { 1: [m1] }, (m, p) => {
      if (m === 'PUT' && p === `/messages/${m1.id}/reactions/${encodeURIComponent('🎉')}`) return { status: 200, body: { reactions: [{ emoji: '🎉', count: 1, user_ids: [2] }] } };
      if (m === 'DELETE' && p === `/messages/${m1.id}/reactions/${encodeURIComponent('🎉')}`) return { status: 200, body: { reactions: [] } };
      return undefined;
    });
    ws.frame({ type: 'reaction_added', conversation_id: 1, message_id: m1.id, emoji: '❤️', user_id: 1, reactions: [{ emoji: '❤️', count: 1, user_ids: [1] }] });
    expect(app.rooms[1].messages[0].reactions).toEqual([{ emoji: '❤️', count: 1, user_ids: [1] }]);
    ws.frame({ type: 'reaction_removed', conversation_id: 1, message_id: m1.id, emoji: '❤️', user_id: 1, reactions: [] });
    expect(app.rooms[1].messages[0].reactions).toEqual([]);
    await app.toggleReaction(app.rooms[1].messages[0], '🎉');
    expect(app.rooms[1].messages[0].reactions).toEqual([{ emoji: '🎉', count: 1, user_ids: [2] }]);
    await app.toggleReaction(app.rooms[1].messages[0], '🎉'); // mine now: removes
    expect(calls.filter((c) => c.path.includes('/reactions/')).map((c) => c.method)).toEqual(['PUT', 'DELETE']);
    expect(calls.find((c) => c.method === 'PUT')?.headers['X-CSRF-Token']).toBe('tok');
    expect(app.rooms[1].messages[0].reactions).toEqual([]);
    app.socket?.stop();
  });

  it('a new reply adds one to its parent once (message and ack), appends to the open thread', async () => {
    const parent = msg(1, 1, grace, { reply_count: 1 });
    const old = msg(1, 2, prof, { reply_to: { id: parent.id, seq: 1, sender: grace, body: 'm1', deleted: false } });
    const { app, ws } = await signedIn(grace, [conv(1, { last_seq: 2 })], { 1: [parent, old] }, (m, p) =>
      m === 'GET' && p === `/messages/${parent.id}/replies?limit=200` ? { status: 200, body: { message: parent, replies: [old], has_more: false } } : undefined,
    );
    await app.openThread(app.rooms[1].messages[0]);
    expect(app.thread?.replies.map((r) => r.id)).toEqual([old.id]);
    // Our own reply: sent with reply_to, comes back as message and ack.
    app.send(1, 'me too', { reply_to: parent.id });
    const sent = FakeWS.last!.sent.filter((f) => f.type === 'send').at(-1)!;
    expect(sent).toMatchObject({ body: 'me too', reply_to: parent.id });
    expect(app.pending.at(-1)).toMatchObject({ reply_to: parent.id });
    const mine = msg(1, 3, grace, { body: 'me too', client_id: String(sent.client_id), reply_to: { id: parent.id, seq: 1, sender: grace, body: 'm1', deleted: false } });
    ws.frame({ type: 'message', message: mine });
    ws.frame({ type: 'ack', client_id: String(sent.client_id), message: mine });
    expect(app.rooms[1].messages[0].reply_count).toBe(2);
    expect(app.thread?.parent.reply_count).toBe(2);
    expect(app.thread?.replies.map((r) => r.id)).toEqual([old.id, mine.id]);
    // Someone else's reply.
    ws.frame({ type: 'message', message: msg(1, 4, alan, { reply_to: { id: parent.id, seq: 1, sender: grace, body: 'm1', deleted: false } }) });
    expect(app.rooms[1].messages[0].reply_count).toBe(3);
    expect(app.thread?.replies).toHaveLength(3);
    // A reply to another message does not go into this thread.
    ws.frame({ type: 'message', message: msg(1, 5, alan, { reply_to: { id: old.id, seq: 2, sender: prof, body: 'm2', deleted: false } }) });
    expect(app.thread?.replies).toHaveLength(3);
    expect(app.rooms[1].messages[1].reply_count).toBe(1);
    // Deleting a reply: one less, its quote of nothing changes.
    ws.frame({ type: 'message_deleted', conversation_id: 1, message_id: 104, seq: 4 });
    expect(app.rooms[1].messages[0].reply_count).toBe(2);
    expect(app.thread?.replies.find((r) => r.id === 104)?.deleted).toBe(true);
    app.socket?.stop();
  });

  it('a failed send keeps reply_to and attachment_ids for Retry; an attachment-only send has an empty body', async () => {
    const { app } = await signedIn(grace, [conv(1)]);
    app.send(1, '', {}); // nothing to send
    expect(app.pending).toHaveLength(0);
    app.send(1, '  ', { attachment_ids: [7] });
    const p = app.pending.at(-1)!;
    expect(p).toMatchObject({ body: '', attachment_ids: [7] });
    app.send(1, 'quoted', { reply_to: 101, attachment_ids: [8] });
    const q = app.pending.at(-1)!;
    FakeWS.last!.frame({ type: 'error', client_id: q.client_id, code: 'bad_request', message: 'attachment 8 cannot be used here' });
    expect(app.pending.find((x) => x.client_id === q.client_id)).toMatchObject({ status: 'failed', error: 'attachment 8 cannot be used here' });
    FakeWS.last!.sent.length = 0;
    app.retry(q.client_id);
    expect(FakeWS.last!.sent).toEqual([{ type: 'send', conversation_id: 1, client_id: q.client_id, body: 'quoted', reply_to: 101, attachment_ids: [8] }]);
    app.socket?.stop();
  });

  it('edits through PATCH; canEdit follows the window and ownership', async () => {
    const mine = msg(1, 1, grace);
    const old = msg(1, 2, grace, { created_at: new Date(Date.now() - 16 * 60_000).toISOString() });
    const theirs = msg(1, 3, alan);
    const { app } = await signedIn(grace, [conv(1, { last_seq: 3 })], { 1: [mine, old, theirs] }, (m, p, b) =>
      m === 'PATCH' && p === `/messages/${mine.id}` ? { status: 200, body: { ...mine, body: (b as { body: string }).body, edited_at: '2026-11-29T10:00:00Z' } } : undefined,
    );
    expect(app.editWindowMinutes).toBe(15);
    expect(app.canEdit(app.rooms[1].messages[0])).toBe(true);
    expect(app.canEdit(app.rooms[1].messages[1])).toBe(false);
    expect(app.canEdit(app.rooms[1].messages[2])).toBe(false);
    await app.editMessage(app.rooms[1].messages[0], ' better ');
    expect(calls.find((c) => c.method === 'PATCH')).toMatchObject({ body: { body: 'better' }, headers: { 'X-CSRF-Token': 'tok' } });
    expect(app.rooms[1].messages[0]).toMatchObject({ body: 'better', edited_at: '2026-11-29T10:00:00Z' });
    app.info = { ...info, registration: 'code', edit_window_minutes: 30 };
    expect(app.canEdit(app.rooms[1].messages[1])).toBe(true);
    app.info = { ...info, registration: 'code', edit_window_minutes: 0 };
    expect(app.canEdit(app.rooms[1].messages[0])).toBe(false);
    app.socket?.stop();
  });
});

// --- mentions ------------------------------------------------------------------------------------

function dangers(html: string): string[] {
  const found: string[] = [];
  if (/<script/i.test(html)) found.push('<script');
  const doc = new DOMParser().parseFromString(`<div id="root">${html}</div>`, 'text/html');
  for (const el of Array.from(doc.querySelectorAll('#root *'))) {
    if (['script', 'iframe', 'object', 'embed', 'img', 'style', 'svg'].includes(el.tagName.toLowerCase())) found.push('element ' + el.tagName);
    for (const a of Array.from(el.attributes)) {
      if (/^on/i.test(a.name)) found.push(`${a.name} on ${el.tagName}`);
      if (/javascript:/i.test(a.value)) found.push(`javascript: in ${a.name}`);
    }
  }
  return found;
}
const ctx = (all = false): MentionContext => ({ names: new Set(['grace', 'alan.t', 'prof']), me: 'grace', all, key: 'k1' });
const mentionSpans = (html: string) => Array.from(new DOMParser().parseFromString(html, 'text/html').querySelectorAll('span.mention')).map((s) => [s.textContent, s.classList.contains('mention-me')]);

describe('mention highlighting in the renderer', () => {
  it('highlights members, the reader more, and nobody else', () => {
    const h = renderMessage('Hi @Grace and @alan.t. Ask @nobody or mail a@grace.org', ctx());
    expect(mentionSpans(h)).toEqual([
      ['@Grace', true],
      ['@alan.t', false],
    ]);
    expect(h).toContain('@nobody');
  });

  it('@all only when the server counted it', () => {
    expect(mentionSpans(renderMessage('@all read this', ctx(true)))).toEqual([['@all', true]]);
    expect(mentionSpans(renderMessage('@all read this', ctx(false)))).toEqual([]);
  });

  it('keeps Markdown around mentions, not inside code, and nothing without a context', () => {
    const h = renderMessage('**@prof** says `@grace` hi', ctx());
    expect(h).toMatch(/<strong><span class="mention">@prof<\/span><\/strong>/);
    expect(h).toContain('<code>@grace</code>');
    expect(mentionSpans(renderMessage('@grace hi'))).toEqual([]);
    // The cache keeps contexts apart.
    expect(mentionSpans(renderMessage('@grace hi', ctx()))).toEqual([['@grace', true]]);
  });

  it.each([
    '@<img src=x onerror=alert(1)>',
    '@grace<img src=x onerror=alert(1)>',
    '@grace"><script>alert(1)</script>',
    '<span class="mention" onclick="alert(1)">@grace</span>',
    '[@grace](javascript:alert(1))',
    '@grace<svg onload=alert(1)>',
  ])('stays inert: %s', (src) => {
    const h = renderMessage(src, ctx(true));
    expect(dangers(h)).toEqual([]);
    expect(h).not.toMatch(/<(img|script|svg)/i);
  });

  it('a member named like markup cannot inject (names are matched, never copied raw)', () => {
    const evil: MentionContext = { names: new Set(['<b>x</b>', 'grace']), all: false, key: 'k2' };
    const h = renderMessage('@<b>x</b> @grace', evil);
    expect(h).not.toContain('<b>');
    expect(mentionSpans(h)).toEqual([['@grace', false]]);
  });
});

describe('composer helpers', () => {
  it('finds the @query before the caret', () => {
    expect(mentionQuery('hi @gr', 6)).toEqual({ start: 3, query: 'gr' });
    expect(mentionQuery('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionQuery('mail a@gr', 9)).toBeNull();
    expect(mentionQuery('hi @gr there', 12)).toBeNull();
  });

  it('offers members by username or name, never oneself, and @all only to owners and admins', () => {
    expect(mentionOptions('tur', members, 2, false).map((o) => o.username)).toEqual(['alan.t']);
    expect(mentionOptions('', members, 2, false).map((o) => o.username)).toEqual(['alan.t', 'prof']);
    expect(mentionOptions('a', members, 2, false).map((o) => o.username)).toEqual(['alan.t', 'prof']);
    expect(mentionOptions('a', members, 1, true).map((o) => o.username)).toContain('all');
    expect(mentionOptions('', members, 2, false).map((o) => o.username)).not.toContain('all');
  });

  it('inserts @username and a space, replacing the partial word', () => {
    expect(insertMention('hi @gr', 3, 6, 'grace')).toEqual({ text: 'hi @grace ', caret: 10 });
    expect(insertMention('hi @grxx there', 3, 6, 'grace')).toEqual({ text: 'hi @grace there', caret: 10 });
  });

  it('accepts one emoji only', () => {
    for (const e of [...REACTIONS, '🚀', '👍🏽', '👨‍👩‍👧', '🇫🇷']) expect(isSingleEmoji(e), e).toBe(true);
    for (const e of ['', 'a', '👍👍', ':)', '1', '<b>', '👍a']) expect(isSingleEmoji(e), e).toBe(false);
  });
});
