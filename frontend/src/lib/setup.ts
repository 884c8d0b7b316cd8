// The headless server's first run (POST /api/v1/setup): the form's checks and
// the server's refusals in the reader's language.

import { ApiError, errorText, type Api } from './api';
import { t } from './i18n.svelte';
import type { SessionInfo } from './types';

export interface SetupInput {
  setup_code: string;
  class_name: string;
  display_name: string;
  username: string;
  password: string;
}

export const PASSWORD_MIN = 8;
const USERNAME = /^[a-z0-9_.-]{3,32}$/;

/** Creates the class and the professor; the answer is a browser session (cookie + CSRF token). */
export async function submitSetup(api: Api, input: SetupInput): Promise<SessionInfo> {
  const s = await api.request<SessionInfo>('POST', '/setup', {
    setup_code: input.setup_code.trim(),
    class_name: input.class_name.trim(),
    display_name: input.display_name.trim(),
    username: input.username.trim(),
    password: input.password,
  });
  api.csrf = s.csrf_token ?? '';
  return s;
}

/** What the form refuses before asking the server (the same rules the server applies); '' when fine. */
export function setupProblem(input: SetupInput): string {
  if (!input.setup_code.replace(/[\s-]/g, '')) return t('setup.code_missing');
  const name = input.class_name.trim();
  if (!name || [...name].length > 64) return t('setup.class_name_rule');
  if ([...input.display_name.trim()].length > 64) return t('setup.display_name_rule');
  if (!USERNAME.test(input.username.trim().toLowerCase())) return t('setup.username_rule');
  if ([...input.password].length < PASSWORD_MIN) return t('setup.password_short', { min: PASSWORD_MIN });
  if (new TextEncoder().encode(input.password).length > 72) return t('setup.password_too_long');
  return '';
}

/** A refusal of the setup as a sentence in the current language. */
export function setupErrorText(err: unknown): string {
  if (err instanceof ApiError) {
    const m = err.message.toLowerCase();
    const rule: [string, RegExp, () => string][] = [
      ['forbidden', /^wrong setup code/, () => t('setup.wrong_code')],
      ['conflict', /^this class is already set up/, () => t('setup.already_done')],
      ['rate_limited', /^too many wrong setup codes/, () => (err.retryAfter ? t('setup.too_many_wait', { minutes: Math.max(1, Math.ceil(err.retryAfter / 60)) }) : t('setup.too_many'))],
      ['conflict', /^username .* is taken/, () => t('setup.username_taken')],
      ['bad_request', /^username:/, () => t('setup.username_rule')],
      ['bad_request', /^password: at least/, () => t('setup.password_short', { min: PASSWORD_MIN })],
      ['bad_request', /^password: at most/, () => t('setup.password_too_long')],
      ['bad_request', /^class name:/, () => t('setup.class_name_rule')],
      ['bad_request', /^display_name:/, () => t('setup.display_name_rule')],
    ];
    for (const [code, re, text] of rule) if (err.code === code && re.test(m)) return text();
  }
  return errorText(err);
}
