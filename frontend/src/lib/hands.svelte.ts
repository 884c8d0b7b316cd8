// Raised hands, per conversation: the queue of each conversation this page
// has looked at, kept in raise order from the hand_* frames; a student's
// place is their index in it. "Called" remembers, per conversation, that the
// professor called on this user ("next") until they raise again or dismiss it.

import type { Api } from './api';
import type { Hand, HandFrame } from './types';

export class Hands {
  queues = $state<Record<number, Hand[]>>({});
  called = $state<Record<number, boolean>>({});

  constructor(private api: Api) {}

  async load(conversationId: number): Promise<void> {
    this.queues[conversationId] = await this.api.hands(conversationId);
  }

  /** Loads again every queue already loaded (after a reconnect: frames may have been missed). */
  async reload(): Promise<void> {
    await Promise.all(Object.keys(this.queues).map((id) => this.load(Number(id)).catch(() => undefined)));
  }

  queue(conversationId: number): Hand[] {
    return this.queues[conversationId] ?? [];
  }

  /** 1-based place of userId in the queue, or 0 when their hand is down. */
  place(conversationId: number, userId: number | undefined): number {
    if (userId === undefined) return 0;
    return this.queue(conversationId).findIndex((h) => h.user.id === userId) + 1;
  }

  /** Applies a frame; returns true when it called on `me` ("next"). */
  apply(f: HandFrame, me: number | undefined): boolean {
    const q = this.queues[f.conversation_id];
    switch (f.type) {
      case 'hand_raised':
        if (f.hand.user.id === me) this.called[f.conversation_id] = false;
        if (q && !q.some((h) => h.user.id === f.hand.user.id)) this.queues[f.conversation_id] = renumber([...q, f.hand]);
        return false;
      case 'hand_lowered':
        if (q) this.queues[f.conversation_id] = renumber(q.filter((h) => h.user.id !== f.user_id));
        if (f.reason === 'next' && f.user_id === me) {
          this.called[f.conversation_id] = true;
          return true;
        }
        return false;
      case 'hand_cleared': {
        const gone = new Set(f.user_ids);
        if (q) this.queues[f.conversation_id] = renumber(q.filter((h) => !gone.has(h.user.id)));
        return false;
      }
    }
  }

  async raise(conversationId: number): Promise<void> {
    const h = await this.api.raiseHand(conversationId);
    this.called[conversationId] = false;
    const q = this.queue(conversationId);
    if (!q.some((x) => x.user.id === h.user.id)) this.queues[conversationId] = renumber([...q, h]);
  }

  async lower(conversationId: number, userId: number): Promise<void> {
    await this.api.lowerHand(conversationId, userId);
    this.queues[conversationId] = renumber(this.queue(conversationId).filter((h) => h.user.id !== userId));
  }

  async next(conversationId: number): Promise<Hand> {
    const h = await this.api.nextHand(conversationId);
    this.queues[conversationId] = renumber(this.queue(conversationId).filter((x) => x.user.id !== h.user.id));
    return h;
  }

  async lowerAll(conversationId: number): Promise<void> {
    await this.api.lowerAllHands(conversationId);
    this.queues[conversationId] = [];
  }

  dismissCalled(conversationId: number): void {
    this.called[conversationId] = false;
  }
}

function renumber(q: Hand[]): Hand[] {
  return q.map((h, i) => (h.place === i + 1 ? h : { ...h, place: i + 1 }));
}

/** How long a hand has been up, as m:ss (h:mm:ss past an hour). */
export function waited(raisedAt: string, now: number): string {
  const s = Math.max(0, Math.floor((now - new Date(raisedAt).getTime()) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
