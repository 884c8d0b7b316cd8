// The message catalogs: every key in all five languages, valid ICU with the same
// arguments as English, plural forms (Arabic has six), Intl formatting in the chosen
// language, language detection, the remembered switch, and refusals shown by code.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import { CATALOGS, LANGUAGES, STORAGE_KEY, detectLanguage, lang, setLanguage, t } from '../src/lib/i18n.svelte';
import { clock, dayLabel, num, relativeTime, slowLabel } from '../src/lib/format';
import { refusalText } from '../src/lib/refusal';

type Tree = { [k: string]: string | Tree };
function flatten(o: Tree, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'string') out[prefix + k] = v;
    else Object.assign(out, flatten(v, prefix + k + '.'));
  }
  return out;
}
/** The argument names a message uses (also inside plural/select branches). */
function args(els: MessageFormatElement[], into = new Set<string>()): Set<string> {
  for (const e of els) {
    if (e.type === TYPE.argument || e.type === TYPE.number || e.type === TYPE.date || e.type === TYPE.time) into.add(e.value);
    if (e.type === TYPE.plural || e.type === TYPE.select) {
      into.add(e.value);
      for (const o of Object.values(e.options)) args(o.value, into);
    }
  }
  return into;
}
function pluralForms(msg: string): string[] {
  const el = parse(msg).find((e) => e.type === TYPE.plural);
  return el && el.type === TYPE.plural ? Object.keys(el.options).sort() : [];
}

const flat = Object.fromEntries(LANGUAGES.map((l) => [l.code, flatten(CATALOGS[l.code] as Tree)])) as Record<string, Record<string, string>>;
const en = flat.en;

afterEach(() => {
  setLanguage('en', false);
  localStorage.clear();
});

describe('catalogs', () => {
  it('ships English, German, French, Spanish and Arabic', () => {
    expect(LANGUAGES.map((l) => l.code)).toEqual(['en', 'de', 'fr', 'es', 'ar']);
    expect(Object.keys(en).length).toBeGreaterThan(300);
  });

  for (const { code } of LANGUAGES.filter((l) => l.code !== 'en')) {
    it(`${code}: has every English key, no other key, and no empty text`, () => {
      const missing = Object.keys(en).filter((k) => !(k in flat[code]));
      const extra = Object.keys(flat[code]).filter((k) => !(k in en));
      const empty = Object.entries(flat[code]).filter(([, v]) => !v.trim());
      expect({ missing, extra, empty: empty.map(([k]) => k) }).toEqual({ missing: [], extra: [], empty: [] });
    });

    it(`${code}: every message is valid ICU and uses the same arguments as English`, () => {
      const wrong: string[] = [];
      for (const [k, src] of Object.entries(en)) {
        const a = [...args(parse(src))].sort().join(',');
        const b = [...args(parse(flat[code][k]))].sort().join(',');
        if (a !== b) wrong.push(`${k}: en {${a}} vs ${code} {${b}}`);
      }
      expect(wrong).toEqual([]);
    });
  }

  it('is not a copy of English: most texts differ in each language', () => {
    for (const code of ['de', 'fr', 'es', 'ar']) {
      const same = Object.keys(en).filter((k) => en[k] === flat[code][k]);
      expect(same.length, `${code}: ${same.join(', ')}`).toBeLessThan(Object.keys(en).length / 10);
    }
  });

  it('knows every key the source code asks for', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (/\.(ts|svelte)$/.test(e.name)) files.push(join(dir, e.name));
      }
    };
    walk(join(__dirname, '../src'));
    const used = new Set<string>();
    for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(/\bt\('([a-z_]+\.[a-z0-9_]+)'/g)) used.add(m[1]);
    // Keys handed over in tables (limits, DM policy, fixed refusals) are named as strings.
    for (const f of files.filter((x) => /(AdminSettings\.svelte|refusal\.ts)$/.test(x))) for (const m of readFileSync(f, 'utf8').matchAll(/'((?:settings|refusal)\.[a-z0-9_]+)'/g)) used.add(m[1]);
    expect(used.size).toBeGreaterThan(250);
    expect([...used].filter((k) => !(k in en))).toEqual([]);
  });
});

describe('plural rules', () => {
  it('Arabic has zero, one, two, few, many and other forms, picked by Intl.PluralRules', () => {
    expect(pluralForms(flat.ar['chat.members_n'])).toEqual(['few', 'many', 'one', 'other', 'two', 'zero']);
    setLanguage('ar', false);
    const forms = [0, 1, 2, 3, 11, 100].map((n) => t('chat.members_n', { n }));
    expect(forms).toEqual(['لا أعضاء', 'عضو واحد', 'عضوان', '3 أعضاء', '11 عضوًا', '100 عضو']);
    expect(new Set(forms).size).toBe(6);
    expect(t('message.replies_n', { n: 2 })).toBe('ردّان');
  });

  it('every Arabic plural has all six forms; English, German, French and Spanish have one and other', () => {
    for (const [k, msg] of Object.entries(flat.ar)) {
      const f = pluralForms(msg);
      if (f.length) expect(f, k).toEqual(['few', 'many', 'one', 'other', 'two', 'zero']);
    }
    for (const code of ['en', 'de', 'fr', 'es']) {
      for (const [k, msg] of Object.entries(flat[code])) {
        const f = pluralForms(msg);
        if (f.length) expect(f, `${code} ${k}`).toEqual(['one', 'other']);
      }
    }
  });

  it('English, German, French and Spanish count one and many', () => {
    const cases: [string, string, string][] = [
      ['en', '1 member', '5 members'],
      ['de', '1 Mitglied', '5 Mitglieder'],
      ['fr', '1 membre', '5 membres'],
      ['es', '1 miembro', '5 miembros'],
    ];
    for (const [code, one, many] of cases) {
      setLanguage(code as 'en', false);
      expect([t('chat.members_n', { n: 1 }), t('chat.members_n', { n: 5 })]).toEqual([one, many]);
    }
    setLanguage('fr', false);
    expect(t('message.replies_n', { n: 0 })).toBe('0 réponse'); // French counts 0 as one
  });
});

describe('Intl formatting in the chosen language', () => {
  const at = new Date(2026, 11, 3, 14, 5, 0).getTime();

  it('numbers, clock times, days and relative times follow the language', () => {
    setLanguage('de', false);
    expect(num(1234.5)).toBe('1.234,5');
    expect(clock(new Date(at).toISOString())).toBe('14:05');
    expect(dayLabel(new Date(at).toISOString(), at)).toBe('Heute');
    expect(dayLabel(new Date(at - 86_400_000).toISOString(), at)).toBe('Gestern');
    expect(relativeTime(at - 5 * 60_000, at)).toBe('vor 5 Minuten');
    expect(slowLabel(300)).toBe('5 Min.');
    setLanguage('fr', false);
    expect(relativeTime(at - 86_400_000, at)).toBe('hier');
    expect(num(1234.5)).toBe(new Intl.NumberFormat('fr').format(1234.5));
    setLanguage('en', false);
    expect(relativeTime(at + 2 * 3_600_000, at)).toBe('in 2 hours');
    expect(slowLabel(30)).toBe('30 s');
    expect(dayLabel(new Date(2026, 0, 5).toISOString(), at)).toBe('Monday, January 5');
    setLanguage('es', false);
    expect(dayLabel(new Date(2026, 0, 5).toISOString(), at)).toBe('lunes, 5 de enero');
    setLanguage('ar', false);
    expect(relativeTime(at - 2 * 86_400_000, at)).toBe(new Intl.RelativeTimeFormat('ar', { numeric: 'auto' }).format(-2, 'day'));
    expect(relativeTime(at - 2 * 86_400_000, at)).toMatch(/[\u0600-\u06ff]/);
  });
});

describe('language detection and the switch', () => {
  it('follows the browser, falling back through the list to English', () => {
    expect(detectLanguage(['de-AT', 'en'])).toBe('de');
    expect(detectLanguage(['pt-BR', 'fr-CA', 'es'])).toBe('fr');
    expect(detectLanguage(['ar-EG'])).toBe('ar');
    expect(detectLanguage(['ja', 'zh'])).toBe('en');
    expect(detectLanguage([])).toBe('en');
    expect(detectLanguage(undefined)).toBe('en');
  });

  it('a remembered choice wins over the browser; an unknown one does not', () => {
    expect(detectLanguage(['de'], 'es')).toBe('es');
    expect(detectLanguage(['de'], 'xx')).toBe('de');
  });

  it('switching sets the texts, <html lang> and dir, and is remembered for the next load', async () => {
    expect(lang()).toBe('en'); // jsdom's navigator says en-US
    expect(t('sidebar.sign_out')).toBe('Sign out');
    setLanguage('ar');
    expect(t('sidebar.sign_out')).toBe('تسجيل الخروج');
    expect(document.documentElement.lang).toBe('ar');
    expect(document.documentElement.dir).toBe('rtl');
    expect(localStorage.getItem(STORAGE_KEY)).toBe('ar');
    setLanguage('de');
    expect(document.documentElement.dir).toBe('ltr');
    expect(t('join.sign_in')).toBe('Anmelden');

    // A fresh page load reads the stored choice.
    vi.resetModules();
    const again = await import('../src/lib/i18n.svelte');
    expect(again.lang()).toBe('de');
    expect(again.t('join.sign_in')).toBe('Anmelden');
    expect(document.documentElement.lang).toBe('de');
  });
});

describe('server refusals by code', () => {
  it('translates the ones whose text varies, with the machine-readable parts', () => {
    setLanguage('de', false);
    expect(refusalText('rate_limited', 'slow mode: wait 12 s')).toBe('Langsamer Modus: warte 12 s');
    expect(refusalText('forbidden', 'the class is paused by the professor')).toBe('Die Klasse wurde von der Lehrkraft pausiert');
    const until = new Date(Date.now() + 10 * 60_000);
    expect(refusalText('forbidden', `you are muted in this conversation until ${until.toISOString()}`)).toBe(
      `Du bist in dieser Unterhaltung stummgeschaltet bis ${clock(until)}`,
    );
    expect(refusalText('forbidden', 'direct messages are turned off in this class')).toBe('Direktnachrichten sind in dieser Klasse ausgeschaltet');
    expect(refusalText('network', 'Cannot reach the server. Check your connection and try again.')).toMatch(/^Der Server ist nicht erreichbar/);
    expect(refusalText('rate_limited', 'too many login attempts', 30)).toBe('too many login attempts (versuche es in 30 s erneut)');
  });

  it("falls back to the server's English message for anything it does not know", () => {
    setLanguage('ar', false);
    expect(refusalText('bad_request', 'name must be 1–64 characters')).toBe('name must be 1–64 characters');
    expect(refusalText('forbidden', 'only owners can do that')).toBe('only owners can do that');
    setLanguage('en', false);
    expect(refusalText('rate_limited', 'slow mode: wait 12 s')).toBe('slow mode: wait 12 s');
    expect(refusalText('forbidden', 'the class is paused by the professor')).toBe('the class is paused by the professor');
  });
});
