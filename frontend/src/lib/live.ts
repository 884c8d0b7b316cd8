// The professor's live feed (#live): pure logic, kept out of the state object so it
// can be unit-tested. Which conversations are subscribed by whom (the open chat,
// the live feed), and how messages from many conversations merge into one stream.

import type { Message } from './types';

/**
 * Who holds a WebSocket subscription. The socket has one subscription per
 * conversation; several parts of the page may want it (the open conversation, the
 * live feed). A conversation is subscribed when the first holder takes it and
 * unsubscribed only when the last one lets it go.
 */
export class SubscriptionBook {
  private readonly holders = new Map<number, Set<string>>();

  /** Takes a hold; true when nobody held it before (the caller subscribes). */
  acquire(owner: string, id: number): boolean {
    let s = this.holders.get(id);
    const fresh = !s || s.size === 0;
    if (!s) {
      s = new Set();
      this.holders.set(id, s);
    }
    s.add(owner);
    return fresh;
  }

  /** Lets a hold go; true when that was the last one (the caller unsubscribes). */
  release(owner: string, id: number): boolean {
    const s = this.holders.get(id);
    if (!s || !s.delete(owner)) return false;
    if (s.size === 0) {
      this.holders.delete(id);
      return true;
    }
    return false;
  }

  /** Lets every hold of one owner go; answers the conversations nobody holds any more. */
  releaseAll(owner: string): number[] {
    const out: number[] = [];
    for (const id of [...this.holders.keys()]) if (this.release(owner, id)) out.push(id);
    return out;
  }

  /** The conversation is gone (deleted on the server): forget every hold. */
  drop(id: number): boolean {
    return this.holders.delete(id);
  }

  holds(owner: string, id: number): boolean {
    return this.holders.get(id)?.has(owner) ?? false;
  }

  held(id: number): boolean {
    return (this.holders.get(id)?.size ?? 0) > 0;
  }

  /** The conversations one owner holds. */
  heldBy(owner: string): number[] {
    return [...this.holders].filter(([, s]) => s.has(owner)).map(([id]) => id);
  }

  clear(): void {
    this.holders.clear();
  }
}

/** The feed keeps this many messages (the oldest go first). */
export const FEED_CAP = 500;

function time(m: Message): number {
  const t = Date.parse(m.created_at);
  return Number.isNaN(t) ? 0 : t;
}

/** Chronological order across conversations: by time, then by id (ids grow in commit order), then by seq. */
export function feedCompare(a: Message, b: Message): number {
  return time(a) - time(b) || a.id - b.id || a.seq - b.seq;
}

/**
 * Merges messages into the feed: one entry per message id (a newer copy replaces the
 * older one, and a deletion is never undone by a stale copy), oldest first, newest at
 * the end, at most `cap` entries. Returns a new array; the input is not changed.
 */
export function mergeFeed(feed: readonly Message[], incoming: readonly Message[], cap = FEED_CAP): Message[] {
  if (!incoming.length) return feed.length > cap ? feed.slice(feed.length - cap) : [...feed];
  const byId = new Map<number, Message>();
  for (const m of feed) byId.set(m.id, m);
  let appendOnly = true;
  const last = feed.at(-1);
  for (const m of incoming) {
    const have = byId.get(m.id);
    if (have) {
      // A stale copy (e.g. a backlog page fetched before the deletion frame) must not bring a deleted message back.
      byId.set(m.id, have.deleted && !m.deleted ? have : { ...have, ...m });
      appendOnly = false;
    } else {
      byId.set(m.id, m);
      if (last && feedCompare(m, last) < 0) appendOnly = false;
    }
  }
  let out: Message[];
  if (appendOnly) {
    // The common case (a live message): no sort needed, but keep incoming in order.
    const fresh = incoming.filter((m, i) => incoming.findIndex((x) => x.id === m.id) === i).sort(feedCompare);
    out = [...feed, ...fresh];
    if (fresh.length && last && feedCompare(fresh[0], last) < 0) out.sort(feedCompare);
  } else {
    out = [...byId.values()].sort(feedCompare);
  }
  return out.length > cap ? out.slice(out.length - cap) : out;
}

/** Marks one message deleted in the feed (body gone, placeholder shown); a new array only when it changed. */
export function markFeedDeleted(feed: readonly Message[], messageId: number): Message[] | null {
  const i = feed.findIndex((m) => m.id === messageId);
  if (i < 0 || feed[i].deleted) return null;
  const out = [...feed];
  out[i] = { ...feed[i], deleted: true, body: '', pinned: false };
  return out;
}

/** Case-insensitive match of the filter text against the conversation name, the sender and the body. */
export function feedMatches(m: Message, conversationName: string, filter: string): boolean {
  const needle = filter.trim().toLowerCase();
  if (!needle) return true;
  const hay = [conversationName, m.sender.display_name, m.sender.username, m.deleted ? '' : m.body].join('\n').toLowerCase();
  return needle.split(/\s+/).every((w) => hay.includes(w));
}
