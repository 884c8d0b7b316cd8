// The attachment tray of each conversation's composer: files picked, pasted or
// dropped are uploaded at once (Api.upload, XMLHttpRequest for progress); Send
// carries the ids of the finished ones (docs/api.md, Everyday features).

import { intlLocale, t } from './i18n.svelte';
import { ApiError, errorText, type Api, type XhrCtor } from './api';
import type { Attachment } from './types';

/** At most this many attachments go with one message. */
export const MAX_ATTACHMENTS = 10;

export interface UploadItem {
  key: number;
  conversation_id: number;
  name: string;
  size: number;
  type: string;
  loaded: number;
  total: number;
  status: 'uploading' | 'done' | 'error';
  error: string;
  attachment: Attachment | null;
  /** A blob: URL to preview an image being uploaded ('' for other files). */
  preview: string;
}

/** 1536 → "1.5 kB" (de "1,5 kB", fr "1,5 ko"): Intl's unit style in the page's language; binary steps, as the server's limits are MiB. */
export function humanSize(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '';
  const units = ['byte', 'kilobyte', 'megabyte', 'gigabyte'] as const;
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const digits = i > 0 && v < 10 ? 1 : 0;
  return sizeFormat(units[i], digits).format(i === 0 ? v : Number(v.toFixed(digits)));
}

const sizeFormats = new Map<string, Intl.NumberFormat>();
function sizeFormat(unit: string, digits: number): Intl.NumberFormat {
  const loc = intlLocale();
  const k = `${loc} ${unit} ${digits}`;
  let f = sizeFormats.get(k);
  if (!f) sizeFormats.set(k, (f = new Intl.NumberFormat(loc, { style: 'unit', unit, unitDisplay: 'short', maximumFractionDigits: digits })));
  return f;
}

export class Uploads {
  trays = $state<Record<number, UploadItem[]>>({});
  private next = 0;
  private aborts = new Map<number, () => void>();
  private readonly api: Api;
  private readonly XHR?: XhrCtor;

  constructor(api: Api, XHR?: XhrCtor) {
    this.api = api;
    this.XHR = XHR;
  }

  tray(conversationId: number): UploadItem[] {
    return this.trays[conversationId] ?? [];
  }

  /** Starts uploading each file; items beyond MAX_ATTACHMENTS are shown as refused. */
  add(conversationId: number, files: Iterable<File>): void {
    if (!this.trays[conversationId]) this.trays[conversationId] = [];
    const list = this.trays[conversationId];
    for (const file of files) {
      const key = ++this.next;
      const isImage = /^image\/(png|jpeg|gif|webp)$/.test(file.type);
      let preview = '';
      if (isImage && typeof URL !== 'undefined' && typeof URL.createObjectURL === 'function') {
        try {
          preview = URL.createObjectURL(file);
        } catch {
          preview = '';
        }
      }
      list.push({
        key,
        conversation_id: conversationId,
        name: file.name || 'pasted file',
        size: file.size,
        type: file.type,
        loaded: 0,
        total: file.size,
        status: 'uploading',
        error: '',
        attachment: null,
        preview,
      });
      const item = list[list.length - 1]; // the reactive proxy
      if (file.size === 0) {
        item.status = 'error';
        item.error = t('uploads.empty');
        continue;
      }
      if (list.filter((x) => x.status !== 'error').length > MAX_ATTACHMENTS) {
        item.status = 'error';
        item.error = t('uploads.too_many', { n: MAX_ATTACHMENTS });
        continue;
      }
      const named = file.name ? file : new File([file], this.pastedName(file.type), { type: file.type });
      if (!file.name) item.name = named.name;
      const up = this.api.upload(
        conversationId,
        named,
        (loaded, total) => {
          item.loaded = loaded;
          item.total = total || item.size;
        },
        this.XHR,
      );
      this.aborts.set(key, up.abort);
      up.promise.then(
        (a) => {
          this.aborts.delete(key);
          item.status = 'done';
          item.loaded = item.total;
          item.attachment = a;
        },
        (e) => {
          this.aborts.delete(key);
          if (e instanceof ApiError && e.code === 'aborted') return;
          item.status = 'error';
          item.error = errorText(e);
        },
      );
    }
  }

  private pastedName(type: string): string {
    const ext = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif', 'image/webp': 'webp' }[type] ?? 'bin';
    const t = new Date();
    const p = (n: number) => String(n).padStart(2, '0');
    return `pasted-${t.getFullYear()}${p(t.getMonth() + 1)}${p(t.getDate())}-${p(t.getHours())}${p(t.getMinutes())}${p(t.getSeconds())}.${ext}`;
  }

  /** Removes one item (cancelling its upload if it is still running). */
  remove(conversationId: number, key: number): void {
    this.aborts.get(key)?.();
    this.aborts.delete(key);
    const list = this.trays[conversationId];
    if (!list) return;
    const it = list.find((x) => x.key === key);
    if (it?.preview) URL.revokeObjectURL?.(it.preview);
    this.trays[conversationId] = list.filter((x) => x.key !== key);
  }

  /** The ids to send with the next message. */
  ready(conversationId: number): number[] {
    return this.tray(conversationId)
      .filter((x) => x.status === 'done' && x.attachment)
      .map((x) => x.attachment!.id);
  }

  uploading(conversationId: number): boolean {
    return this.tray(conversationId).some((x) => x.status === 'uploading');
  }

  /** After sending: the finished items leave the tray (failed ones stay, to be read and removed). */
  sent(conversationId: number): void {
    const list = this.trays[conversationId];
    if (!list) return;
    for (const it of list) if (it.status === 'done' && it.preview) URL.revokeObjectURL?.(it.preview);
    this.trays[conversationId] = list.filter((x) => x.status !== 'done');
  }
}
