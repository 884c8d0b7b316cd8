// Questions (Q&A board), per conversation: each board this page has looked
// at, kept current from the question_* frames. Frames never carry `voted`
// (one frame goes to many viewers), so the viewer's own upvote is kept from
// the REST answers.

import type { Api } from './api';
import type { Question, QuestionFrame } from './types';

export type QuestionSort = 'votes' | 'newest';

export class Questions {
  boards = $state<Record<number, Question[]>>({});

  constructor(private api: Api) {}

  async load(conversationId: number): Promise<void> {
    this.boards[conversationId] = await this.api.questions(conversationId);
  }

  async reload(): Promise<void> {
    await Promise.all(Object.keys(this.boards).map((id) => this.load(Number(id)).catch(() => undefined)));
  }

  /** The board sorted: pinned first, then most upvoted (oldest first among equals) or newest. */
  sorted(conversationId: number, by: QuestionSort): Question[] {
    return [...(this.boards[conversationId] ?? [])].sort((a, b) => {
      if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
      if (by === 'newest') return b.id - a.id;
      return b.votes - a.votes || a.id - b.id;
    });
  }

  private put(q: Question): void {
    const list = this.boards[q.conversation_id];
    if (!list) return;
    const i = list.findIndex((x) => x.id === q.id);
    const voted = q.voted ?? (i >= 0 ? list[i].voted : false);
    const next = { ...q, voted };
    this.boards[q.conversation_id] = i >= 0 ? list.map((x, j) => (j === i ? next : x)) : [...list, next];
  }

  private drop(conversationId: number, id: number): void {
    const list = this.boards[conversationId];
    if (list) this.boards[conversationId] = list.filter((q) => q.id !== id);
  }

  apply(f: QuestionFrame): void {
    if (f.type === 'question_removed') this.drop(f.conversation_id, f.question_id);
    else this.put(f.question);
  }

  async ask(conversationId: number, body: string, anonymous: boolean): Promise<void> {
    this.put(await this.api.askQuestion(conversationId, body, anonymous));
  }

  async vote(q: Question): Promise<void> {
    this.put(await this.api.voteQuestion(q.id, !q.voted));
  }

  async update(q: Question, patch: { status?: 'open' | 'answered' | 'dismissed'; pinned?: boolean; answer?: string }): Promise<void> {
    this.put(await this.api.updateQuestion(q.id, patch));
  }

  async withdraw(q: Question): Promise<void> {
    await this.api.withdrawQuestion(q.id);
    this.drop(q.conversation_id, q.id);
  }
}
