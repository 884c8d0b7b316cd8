// The web client's languages: svelte-i18n (ICU messages through intl-messageformat,
// plural rules from Intl.PluralRules) with the five catalogs bundled in, no loading.
// `t()` reads a rune, so any template or $derived that calls it follows a language switch.

import { addMessages, init, locale as i18nLocale, format } from 'svelte-i18n';
import en from '../locales/en.json';
import de from '../locales/de.json';
import fr from '../locales/fr.json';
import es from '../locales/es.json';
import ar from '../locales/ar.json';

export const LANGUAGES = [
  { code: 'en', name: 'English', dir: 'ltr' },
  { code: 'de', name: 'Deutsch', dir: 'ltr' },
  { code: 'fr', name: 'Français', dir: 'ltr' },
  { code: 'es', name: 'Español', dir: 'ltr' },
  { code: 'ar', name: 'العربية', dir: 'rtl' },
] as const;
export type Lang = (typeof LANGUAGES)[number]['code'];
export const CATALOGS: Record<Lang, Record<string, unknown>> = { en, de, fr, es, ar };
export const STORAGE_KEY = 'teamchat.lang';

function isLang(x: string): x is Lang {
  return LANGUAGES.some((l) => l.code === x);
}

/** The first of the browser's languages that we ship ("de-AT" → "de"), else English. */
export function detectLanguage(preferred: readonly string[] | undefined, stored: string | null = null): Lang {
  if (stored && isLang(stored)) return stored;
  for (const tag of preferred ?? []) {
    const base = tag.toLowerCase().split(/[-_]/)[0];
    if (isLang(base)) return base;
  }
  return 'en';
}

function storedLanguage(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

for (const l of LANGUAGES) addMessages(l.code, CATALOGS[l.code] as never);
const initial = detectLanguage(typeof navigator === 'undefined' ? [] : navigator.languages, storedLanguage());
init({ fallbackLocale: 'en', initialLocale: initial, warnOnMissingMessages: false });

const state = $state({ lang: initial as Lang });
type Formatter = (id: string, options?: { values?: Record<string, unknown> }) => string;
let formatter: Formatter = (id) => id;
format.subscribe((f) => (formatter = f as unknown as Formatter));

function applyDocument(lang: Lang): void {
  if (typeof document === 'undefined') return;
  document.documentElement.lang = lang;
  document.documentElement.dir = LANGUAGES.find((l) => l.code === lang)?.dir ?? 'ltr';
}
applyDocument(initial);

/** The current language (reactive). */
export function lang(): Lang {
  return state.lang;
}

/** The BCP 47 locale for Intl formatters. */
export function intlLocale(): string {
  return state.lang;
}

/** The page's language and this browser's IANA time zone, for what the server renders (printable transcripts). */
export function reader(): { lang: Lang; tz?: string } {
  let tz: string | undefined;
  try {
    tz = Intl.DateTimeFormat().resolvedOptions().timeZone || undefined;
  } catch {
    tz = undefined;
  }
  return { lang: state.lang, tz };
}

export function isRtl(): boolean {
  return state.lang === 'ar';
}

/** Switches the language for the whole page and remembers it in this browser. */
export function setLanguage(next: Lang, remember = true): void {
  i18nLocale.set(next);
  state.lang = next;
  applyDocument(next);
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, next);
    } catch {
      // private mode: the switch still holds for this page
    }
  }
}

export type Values = Record<string, string | number | boolean | Date | null | undefined>;

/** The text of `key` in the current language, with ICU values (plurals, selects). */
export function t(key: string, values?: Values): string {
  void state.lang; // a dependency for templates and $derived
  return formatter(key, values ? { values } : undefined);
}
