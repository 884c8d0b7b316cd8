// Wire types from docs/api.md (the contract). Field names match the JSON.

export type Role = 'admin' | 'user' | 'guest';

export interface User {
  id: number;
  username: string;
  display_name: string;
  role: Role;
  created_at: string;
  disabled: boolean;
}

export interface Conversation {
  id: number;
  name: string;
  kind: 'group' | 'direct';
  created_at: string;
  locked: boolean;
  auto_join: boolean;
  last_seq: number;
  /** Minimum seconds between one member's messages; 0 = off (moderation API). */
  slow_mode_seconds?: number;
  /** In lists only: unread messages for the caller. */
  unread?: number;
  /** Mentions of the caller above their read marker (issue 8; 0 for non-members). */
  unread_mentions?: number;
  /** The caller's own notification mute (issue 8). */
  notifications_muted?: boolean;
  /** In lists only: null for an admin who is not a member. */
  member_role?: 'owner' | 'member' | null;
  members?: Member[];
  /** Not in the contract; this server adds it to list entries. Used for previews when present. */
  last_message?: Message | null;
}

export interface Member {
  user: User;
  role: 'owner' | 'member';
  joined_at: string;
  /** Not in the moderation API as written; used when a server adds it (end of a mute, ISO time). */
  muted_until?: string | null;
}

/** An active mute (GET /conversations/{id}/mutes). */
export interface Mute {
  user: User;
  until: string;
}

export type DmPolicy = 'anyone' | 'staff' | 'none';
/** Who may create groups: students too, or admins only. */
export type GroupPolicy = 'anyone' | 'staff';

/** One audit log entry (GET /audit), newest first. */
export interface AuditEntry {
  id: number;
  actor: User | null;
  action: string;
  target_type: string;
  target_id: number | string | null;
  details: unknown;
  created_at: string;
}

export interface AuditQuery {
  action?: string;
  actor_id?: number;
  limit?: number;
  before_id?: number;
}

export interface Message {
  id: number;
  conversation_id: number;
  seq: number;
  sender: User;
  body: string;
  created_at: string;
  client_id: string | null;
  deleted: boolean;
  /** Moderation API: pinned by an owner or admin. */
  pinned?: boolean;
  // Everyday features (docs/api.md, issue 8). Optional so older servers and test fakes still fit.
  edited_at?: string | null;
  reply_to?: ReplyRef | null;
  reply_count?: number;
  mentions?: number[];
  mention_all?: boolean;
  reactions?: Reaction[];
  attachments?: Attachment[];
}

/** The quoted message of a reply (body cut to 200 characters, "" when deleted). */
export interface ReplyRef {
  id: number;
  seq: number;
  sender: User;
  body: string;
  deleted: boolean;
}

export interface Reaction {
  emoji: string;
  count: number;
  user_ids: number[];
}

export interface Attachment {
  id: number;
  name: string;
  content_type: string;
  size: number;
  width: number;
  height: number;
  inline: boolean;
  url: string;
  thumbnail_url: string;
}

/** One earlier text of an edited message (GET /messages/{id}/edits), oldest first. */
export interface MessageEdit {
  body: string;
  edited_at: string;
}

export interface SessionInfo {
  user: User;
  csrf_token: string;
}

export interface ServerInfo {
  name: string;
  id: string;
  version: string;
  registration: 'open' | 'code' | 'closed';
  guest_access: boolean;
  /** Not in the moderation API as written; honoured when a server sends it. */
  paused?: boolean;
  /** The active class session, or null (oversight API). */
  session?: ClassSessionInfo | null;
  /** Not in /info as written; honoured when a server sends it (15 is assumed otherwise). */
  edit_window_minutes?: number;
}

/** A class session as /info and frames carry it. */
export interface ClassSessionInfo {
  id: number;
  name: string;
  started_at: string;
  ends_at: string | null;
}

/** A class session (POST/GET /sessions). */
export interface ClassSession extends ClassSessionInfo {
  ended_at: string | null;
  active: boolean;
}

/** One item of the flagged queue (GET /flags). */
export interface Flag {
  id: number;
  kind: 'keyword' | 'report';
  word: string | null;
  reason: string | null;
  reporter: User | null;
  message: Message;
  conversation: { id: number; name: string };
  context: Message[];
  created_at: string;
  resolved_at: string | null;
  resolved_by: User | null;
  note?: string | null;
}

export interface ParticipationRow {
  user: User;
  messages: number;
  words: number;
  conversations: { id: number; name: string; messages: number }[];
  first_at: string | null;
  last_at: string | null;
}

export interface Participation {
  since: string | null;
  until: string | null;
  rows: ParticipationRow[];
}

export interface Settings {
  name?: string;
  registration: 'open' | 'code' | 'closed';
  join_code: string;
  guest_access: boolean;
  guest_ttl_hours: number;
  /** While true only admins can post. */
  paused?: boolean;
  dm_policy?: DmPolicy;
  group_policy?: GroupPolicy;
  /** Words that flag a message (not block it). */
  flag_words?: string[];
  /** Minutes a sender may edit a message (0–1440; 0 = editing off). */
  edit_window_minutes?: number;
  /** Largest upload, MiB (1–100). */
  max_upload_mib?: number;
  /** Per-user total of uploads that still exist, MiB (1–100000). */
  upload_quota_mib?: number;
}

export interface ConsoleInfo {
  name: string;
  join_code: string;
  urls: string[];
  join_urls: string[];
  online: number;
  /** SHA-256 of the TLS certificate (lower-case hex); "" without --tls. */
  fingerprint?: string;
}

/** Frames the server sends over the WebSocket. */
export type ServerFrame =
  | { type: 'ready'; user: User; paused?: boolean }
  | { type: 'message'; message: Message }
  | { type: 'message_deleted'; conversation_id: number; message_id: number; seq: number }
  | { type: 'typing'; conversation_id: number; user: User }
  | { type: 'presence'; user_id: number; online: boolean }
  | { type: 'presence_snapshot'; user_ids: number[] }
  | { type: 'presence_changes'; online: number[]; offline: number[] }
  | { type: 'conversation_updated'; conversation: Conversation }
  | { type: 'member_added'; conversation_id: number; user: User }
  | { type: 'member_removed'; conversation_id: number; user: User }
  | { type: 'activity'; conversation_id: number; last_seq: number }
  | { type: 'subscribed'; conversation_id: number; last_seq: number; has_more: boolean }
  | { type: 'unsubscribed'; conversation_id: number }
  | { type: 'ack'; client_id: string; message: Message }
  | { type: 'error'; code: string; message: string; client_id?: string; conversation_id?: number }
  | { type: 'member_muted'; conversation_id: number; user_id: number; until: string | null }
  | { type: 'message_pinned'; conversation_id: number; message_id: number; pinned: boolean }
  | { type: 'class_paused'; paused: boolean }
  | { type: 'session_started'; session: ClassSessionInfo }
  | { type: 'session_ended'; session: ClassSessionInfo }
  | { type: 'message_flagged'; flag: Flag }
  | { type: 'conversation_deleted'; conversation_id: number }
  | { type: 'mentioned'; conversation_id: number; message: Message }
  | { type: 'message_edited'; conversation_id: number; message: Message }
  | { type: 'reaction_added' | 'reaction_removed'; conversation_id: number; message_id: number; emoji: string; user_id: number; reactions: Reaction[] };

// --- search and mentions (issue 8) ---------------------------------------------

/** One part of a search snippet; `match` parts are the matched words. Plain text, never HTML. */
export interface SnippetPart {
  text: string;
  match: boolean;
}

export interface SearchResult {
  message: Message;
  conversation_name: string;
  snippet: SnippetPart[];
}

export interface SearchQuery {
  q: string;
  conversation_id?: number;
  sender_id?: number;
  /** RFC 3339 */
  after?: string;
  /** RFC 3339 */
  before?: string;
  limit?: number;
  offset?: number;
}
