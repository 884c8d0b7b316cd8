// The professor's live feed (#live): merge / order / dedupe of the stream, the
// subscription bookkeeping (who holds which conversation), and the state wiring.
import { beforeEach, describe, expect, it } from 'vitest';
import { FakeWS, calls, flush, useFakeSocket, serveAs, startApp } from './fakes';
import { FEED_CAP, SubscriptionBook, feedCompare, feedMatches, markFeedDeleted, mergeFeed } from '../src/lib/live';
import { parseHash, routeHash } from '../src/lib/chat.svelte';
import { sessionTranscriptUrl } from '../src/lib/api';
import type { Conversation, Message, User } from '../src/lib/types';

const prof: User = { id: 1, username: 'prof', display_name: 'Prof. Ada', role: 'admin', created_at: '2026-11-29T09:00:00.000Z', disabled: false };
const grace: User = { ...prof, id: 2, username: 'grace', display_name: 'Grace', role: 'user' };
const alan: User = { ...prof, id: 3, username: 'alan', display_name: 'Alan', role: 'user' };

function conv(id: number, over: Partial<Conversation> = {}): Conversation {
  return { id, name: `C${id}`, kind: 'group', created_at: '2026-11-29T09:00:00.000Z', locked: false, auto_join: false, last_seq: 0, slow_mode_seconds: 0, unread: 0, member_role: null, ...over };
}
/** A message: id grows with the minute (commit order), seq per conversation. */
function msg(c: number, seq: number, minute: number, sender: User = grace, over: Partial<Message> = {}): Message {
  const mm = String(minute).padStart(2, '0');
  return { id: minute * 10 + c, conversation_id: c, seq, sender, body: `c${c} m${seq}`, created_at: `2026-11-29T09:${mm}:00.000Z`, client_id: null, deleted: false, pinned: false, ...over };
}
const ids = (l: Message[]) => l.map((m) => m.id);

describe('mergeFeed', () => {
  it('interleaves conversations chronologically, newest last', () => {
    const a = [msg(1, 1, 1), msg(1, 2, 4), msg(1, 3, 6)];
    const b = [msg(2, 1, 2), msg(2, 2, 3), msg(2, 3, 5)];
    const feed = mergeFeed(mergeFeed([], a), b);
    expect(feed.map((m) => m.created_at.slice(11, 16))).toEqual(['09:01', '09:02', '09:03', '09:04', '09:05', '09:06']);
    // The same result whichever conversation's backlog arrives first.
    expect(ids(mergeFeed(mergeFeed([], b), a))).toEqual(ids(feed));
  });

  it('appends a live message at the end and puts a late one in its place', () => {
    let feed = mergeFeed([], [msg(1, 1, 1), msg(2, 1, 3)]);
    feed = mergeFeed(feed, [msg(1, 2, 5)]);
    expect(ids(feed).at(-1)).toBe(msg(1, 2, 5).id);
    // A backlog page that arrives after a newer live message is merged in order.
    feed = mergeFeed(feed, [msg(3, 1, 2), msg(3, 2, 4)]);
    expect(feed.map((m) => m.created_at.slice(14, 16))).toEqual(['01', '02', '03', '04', '05']);
  });

  it('orders equal times by id (commit order)', () => {
    const x = { ...msg(1, 1, 1), id: 20 };
    const y = { ...msg(2, 1, 1), id: 11 };
    expect(ids(mergeFeed([], [x, y]))).toEqual([11, 20]);
    expect(feedCompare(y, x)).toBeLessThan(0);
  });

  it('keeps one entry per message: the backlog and the live stream overlapping, or a replay after a reconnect', () => {
    const page = [msg(1, 1, 1), msg(1, 2, 2)];
    let feed = mergeFeed([], page);
    feed = mergeFeed(feed, [msg(1, 2, 2)]); // the same message live
    feed = mergeFeed(feed, [msg(1, 2, 2), msg(1, 3, 3), msg(1, 3, 3)]); // replayed, and twice in one batch
    expect(ids(feed)).toEqual([msg(1, 1, 1).id, msg(1, 2, 2).id, msg(1, 3, 3).id]);
  });

  it('a newer copy updates the entry; a stale copy never brings a deleted message back', () => {
    let feed = mergeFeed([], [msg(1, 1, 1), msg(1, 2, 2)]);
    feed = mergeFeed(feed, [msg(1, 1, 1, grace, { pinned: true })]);
    expect(feed[0].pinned).toBe(true);
    feed = markFeedDeleted(feed, msg(1, 2, 2).id)!;
    expect(feed[1]).toMatchObject({ deleted: true, body: '' });
    feed = mergeFeed(feed, [msg(1, 2, 2)]); // a page fetched before the deletion
    expect(feed[1]).toMatchObject({ deleted: true, body: '' });
    // A fresh page that says deleted updates a message deleted while away.
    feed = mergeFeed(feed, [msg(1, 1, 1, grace, { deleted: true, body: '' })]);
    expect(feed[0].deleted).toBe(true);
  });

  it('does not change its input and keeps at most the cap, dropping the oldest', () => {
    const base = [msg(1, 1, 1)];
    const out = mergeFeed(base, [msg(1, 2, 2)]);
    expect(base).toHaveLength(1);
    expect(out).not.toBe(base);
    const many = Array.from({ length: 30 }, (_, i) => msg(1, i + 1, i + 1));
    const capped = mergeFeed([], many, 10);
    expect(capped).toHaveLength(10);
    expect(capped[0].seq).toBe(21);
    expect(capped.at(-1)?.seq).toBe(30);
    expect(FEED_CAP).toBeGreaterThanOrEqual(100);
  });

  it('markFeedDeleted answers null when there is nothing to change', () => {
    const feed = [msg(1, 1, 1)];
    expect(markFeedDeleted(feed, 999)).toBeNull();
    const d = markFeedDeleted(feed, feed[0].id)!;
    expect(markFeedDeleted(d, feed[0].id)).toBeNull();
  });
});

describe('feedMatches', () => {
  const m = msg(1, 1, 1, { ...grace, display_name: 'Grace Hopper' }, { body: 'What is entropy?' });
  it('matches conversation name, sender and text, ignoring case; every word must match', () => {
    expect(feedMatches(m, 'Group A', '')).toBe(true);
    expect(feedMatches(m, 'Group A', 'group a')).toBe(true);
    expect(feedMatches(m, 'Group A', 'hopper')).toBe(true);
    expect(feedMatches(m, 'Group A', 'grace')).toBe(true);
    expect(feedMatches(m, 'Group A', 'ENTROPY')).toBe(true);
    expect(feedMatches(m, 'Group A', 'group grace')).toBe(true);
    expect(feedMatches(m, 'Group A', 'group alan')).toBe(false);
    expect(feedMatches({ ...m, deleted: true, body: '' }, 'Group A', 'entropy')).toBe(false);
  });
});

describe('sessionTranscriptUrl', () => {
  it('points at the session transcript in each format', () => {
    expect(sessionTranscriptUrl(7, 'html')).toBe('/api/v1/sessions/7/transcript?format=html');
    expect(sessionTranscriptUrl(7, 'csv')).toBe('/api/v1/sessions/7/transcript?format=csv');
    expect(sessionTranscriptUrl(12, 'json', 'http://127.0.0.1:8080')).toBe('http://127.0.0.1:8080/api/v1/sessions/12/transcript?format=json');
  });
});

describe('SubscriptionBook', () => {
  it('subscribes on the first hold and unsubscribes only when the last holder lets go', () => {
    const b = new SubscriptionBook();
    expect(b.acquire('chat', 1)).toBe(true);
    expect(b.acquire('live', 1)).toBe(false); // already subscribed for the open chat
    expect(b.acquire('live', 2)).toBe(true);
    expect(b.acquire('live', 2)).toBe(false); // twice by the same holder is one hold
    expect(b.releaseAll('live').sort()).toEqual([2]); // 1 stays: the chat still has it open
    expect(b.held(1)).toBe(true);
    expect(b.holds('live', 1)).toBe(false);
    expect(b.release('chat', 1)).toBe(true);
    expect(b.held(1)).toBe(false);
  });

  it('releasing what one does not hold changes nothing; drop forgets a deleted conversation', () => {
    const b = new SubscriptionBook();
    b.acquire('chat', 1);
    expect(b.release('live', 1)).toBe(false);
    expect(b.release('live', 9)).toBe(false);
    expect(b.held(1)).toBe(true);
    b.acquire('live', 3);
    expect(b.heldBy('live')).toEqual([3]);
    expect(b.drop(3)).toBe(true);
    expect(b.heldBy('live')).toEqual([]);
    expect(b.drop(3)).toBe(false);
  });
});

// --- the application state ------------------------------------------------------------------


let convList: Conversation[] = [];
let pages: Record<number, Message[]> = {};

async function signedIn(me: User) {
  serveAs(me, { name: 'Physics 101', id: 'x', version: 'dev', registration: 'code', guest_access: true, session: null }, (m, p) => {
    if (m === 'GET' && p === '/settings') return { status: 200, body: { registration: 'code', join_code: 'X', guest_access: true, guest_ttl_hours: 24, flag_words: [] } };
    if (m === 'GET' && p === '/flags?status=open') return { status: 200, body: { flags: [] } };
    if (m === 'GET' && p === '/conversations') return { status: 200, body: { conversations: convList } };
    const mm = /^\/conversations\/(\d+)\/messages(?:\?(.*))?$/.exec(p);
    if (m === 'GET' && mm) {
      const limit = Number(new URLSearchParams(mm[2] ?? '').get('limit') ?? 50);
      return { status: 200, body: { messages: (pages[Number(mm[1])] ?? []).slice(-limit), has_more: false } };
    }
    if (m === 'GET' && /^\/conversations\/\d+\/members$/.test(p)) return { status: 200, body: { members: [] } };
    if (m === 'DELETE' && /^\/messages\/\d+$/.test(p)) return { status: 204 };
    if (m === 'POST' && /\/read$/.test(p)) return { status: 204 };
    return undefined;
  });
  const { app, ws } = await startApp(me);
  await flush();
  return { app, ws };
}

const subscribes = (ws: FakeWS) => ws.sent.filter((f) => f.type === 'subscribe');
const unsubscribes = (ws: FakeWS) => ws.sent.filter((f) => f.type === 'unsubscribe').map((f) => f.conversation_id);

useFakeSocket();
beforeEach(() => {
  convList = [conv(1, { last_seq: 25 }), conv(2, { last_seq: 2 }), conv(3)];
  pages = {
    1: Array.from({ length: 25 }, (_, i) => msg(1, i + 1, i + 1)),
    2: [msg(2, 1, 3, alan), msg(2, 2, 30, alan)],
    3: [],
  };
});

describe('ChatApp live feed', () => {
  it('routes #live', () => {
    expect(parseHash('#live')).toEqual({ view: 'live' });
    expect(routeHash({ view: 'live' })).toBe('#live');
  });

  it('opens with the last 20 messages of every conversation, merged, then subscribes after them', async () => {
    const { app, ws } = await signedIn(prof);
    await app.startLive();
    await flush();
    const backlog = calls.filter((c) => /\/messages\?limit=20$/.test(c.path)).map((c) => c.path);
    expect(backlog.sort()).toEqual(['/conversations/1/messages?limit=20', '/conversations/2/messages?limit=20', '/conversations/3/messages?limit=20']);
    expect(app.feed).toHaveLength(22);
    // 2's first message (09:03) comes before 1's oldest shown one (seq 6, 09:06).
    expect(app.feed.slice(0, 2).map((m) => [m.conversation_id, m.seq])).toEqual([[2, 1], [1, 6]]);
    expect(app.feed.at(-1)).toMatchObject({ conversation_id: 2, seq: 2 });
    expect(ids(app.feed)).toEqual(ids([...app.feed].sort(feedCompare)));
    const subs = Object.fromEntries(subscribes(ws).map((f) => [f.conversation_id, f.after_seq]));
    expect(subs).toEqual({ 1: 25, 2: 2, 3: 0 });

    // Live: appended in order, once, whatever the stream repeats.
    ws.frame({ type: 'message', message: msg(3, 1, 40, grace) });
    ws.frame({ type: 'message', message: msg(1, 26, 41, alan) });
    ws.frame({ type: 'message', message: msg(1, 26, 41, alan) });
    expect(app.feed.slice(-2).map((m) => [m.conversation_id, m.seq])).toEqual([[3, 1], [1, 26]]);
    expect(app.feed).toHaveLength(24);
    // Deletions show as placeholders, live.
    ws.frame({ type: 'message_deleted', conversation_id: 3, message_id: msg(3, 1, 40).id, seq: 1 });
    expect(app.feed.find((m) => m.id === msg(3, 1, 40).id)).toMatchObject({ deleted: true, body: '' });
    app.stopLive();
    app.socket?.stop();
  });

  it('leaving the feed keeps the conversation the professor has open subscribed', async () => {
    const { app, ws } = await signedIn(prof);
    location.hash = '#c/2';
    await flush();
    expect(subscribes(ws).map((f) => f.conversation_id)).toEqual([2]);
    await app.startLive();
    await flush();
    // Not subscribed twice for the same reason: the open chat already holds 2.
    expect(subscribes(ws).filter((f) => f.conversation_id === 2)).toHaveLength(1);
    app.stopLive();
    expect(unsubscribes(ws).sort()).toEqual([1, 3]);
    expect([...app.socket!.subscriptions().keys()]).toEqual([2]);

    // The other way round: the feed is open and a chat opened from it closes.
    await app.startLive();
    await flush();
    location.hash = '#live';
    await flush();
    // The chat let go of 2, but the feed still holds it.
    expect(unsubscribes(ws).filter((id) => id === 2)).toEqual([]);
    expect([...app.socket!.subscriptions().keys()].sort()).toEqual([1, 2, 3]);
    app.stopLive();
    expect(unsubscribes(ws).filter((id) => id === 2)).toEqual([2]);
    expect(app.socket!.subscriptions().size).toBe(0);
    app.socket?.stop();
  });

  it('a new conversation joins the feed; a deleted one leaves it', async () => {
    const { app, ws } = await signedIn(prof);
    await app.startLive();
    await flush();
    convList = [...convList, conv(4, { name: 'Group D', last_seq: 1 })];
    pages[4] = [msg(4, 1, 50, grace)];
    ws.frame({ type: 'conversation_updated', conversation: conv(4, { name: 'Group D' }) });
    await flush();
    expect(subscribes(ws).find((f) => f.conversation_id === 4)).toMatchObject({ after_seq: 1 });
    expect(app.feed.at(-1)).toMatchObject({ conversation_id: 4, seq: 1 });
    ws.frame({ type: 'conversation_deleted', conversation_id: 4 });
    expect(app.feed.some((m) => m.conversation_id === 4)).toBe(false);
    expect(app.socket!.subscriptions().has(4)).toBe(false);
    expect(app.conversation(4)).toBeUndefined();
    app.stopLive();
    app.socket?.stop();
  });

  it('after a reconnect the socket resumes every feed subscription and the recent pages are fetched again', async () => {
    const { app, ws } = await signedIn(prof);
    await app.startLive();
    await flush();
    ws.frame({ type: 'message', message: msg(2, 3, 45, alan) });
    ws.onclose?.({ code: 1006, reason: '' });
    // Deleted while the professor was away.
    pages[2] = [msg(2, 1, 3, alan), msg(2, 2, 30, alan, { deleted: true, body: '' }), msg(2, 3, 45, alan)];
    await new Promise((r) => setTimeout(r, 700)); // the first reconnect waits at most 500 ms
    const ws2 = FakeWS.last!;
    expect(ws2).not.toBe(ws);
    ws2.readyState = 1;
    calls.length = 0;
    ws2.frame({ type: 'ready', user: prof });
    await flush();
    const resumed = Object.fromEntries(subscribes(ws2).map((f) => [f.conversation_id, f.after_seq]));
    expect(resumed).toEqual({ 1: 25, 2: 3, 3: 0 });
    expect(calls.filter((c) => /\/messages\?limit=20$/.test(c.path))).toHaveLength(3);
    expect(app.feed.find((m) => m.id === msg(2, 2, 30).id)?.deleted).toBe(true);
    // Resubscribing was the socket's job: no second subscribe per conversation.
    expect(subscribes(ws2)).toHaveLength(3);
    app.stopLive();
    app.socket?.stop();
  });

  it('deleting from the feed calls the API and shows the placeholder', async () => {
    const { app } = await signedIn(prof);
    await app.startLive();
    await flush();
    const m = app.feed.at(-1)!;
    await app.deleteMessage(m);
    expect(calls.some((c) => c.method === 'DELETE' && c.path === `/messages/${m.id}`)).toBe(true);
    expect(app.feed.at(-1)).toMatchObject({ id: m.id, deleted: true });
    app.stopLive();
    app.socket?.stop();
  });
});
