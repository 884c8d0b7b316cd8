// The first-run setup form's checks and the server's refusals, in the reader's language.
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError } from '../src/lib/api';
import { setLanguage } from '../src/lib/i18n.svelte';
import { setupErrorText, setupProblem } from '../src/lib/setup';

const good = { setup_code: 'ABCDE-FGHJK', class_name: 'Physics 101', display_name: '', username: 'ada', password: 'a good password' };

afterEach(() => setLanguage('en', false));

describe('setup form', () => {
  it('accepts a complete form and refuses each broken field with its rule', () => {
    expect(setupProblem(good)).toBe('');
    expect(setupProblem({ ...good, setup_code: ' - ' })).toMatch(/setup code/);
    expect(setupProblem({ ...good, class_name: '  ' })).toMatch(/1 to 64/);
    expect(setupProblem({ ...good, class_name: 'x'.repeat(65) })).toMatch(/1 to 64/);
    expect(setupProblem({ ...good, username: 'No Spaces' })).toMatch(/3 to 32/);
    expect(setupProblem({ ...good, username: 'ADA' })).toBe(''); // the server folds case
    expect(setupProblem({ ...good, password: 'short' })).toMatch(/too short: at least 8/);
    expect(setupProblem({ ...good, password: 'ü'.repeat(40) })).toMatch(/72 bytes/); // 40 characters, 80 bytes
  });

  it("shows the server's refusals translated, by code and message", () => {
    const err = (status: number, code: string, msg: string, ra: number | null = null) => new ApiError(status, code, msg, ra);
    expect(setupErrorText(err(403, 'forbidden', 'wrong setup code'))).toMatch(/setup code is not right/);
    expect(setupErrorText(err(409, 'conflict', 'this class is already set up: sign in'))).toMatch(/already set up/);
    expect(setupErrorText(err(429, 'rate_limited', 'too many wrong setup codes: try again later', 600))).toMatch(/10 minutes/);
    expect(setupErrorText(err(400, 'bad_request', 'password: at least 8 characters'))).toMatch(/too short/);
    expect(setupErrorText(err(409, 'conflict', 'username "ada" is taken'))).toMatch(/taken/);
    setLanguage('de', false);
    expect(setupErrorText(err(403, 'forbidden', 'wrong setup code'))).toMatch(/Einrichtungscode stimmt nicht/);
    expect(setupErrorText(err(429, 'rate_limited', 'too many wrong setup codes: try again later', 60))).toMatch(/1 Minute/);
    setLanguage('ar', false);
    expect(setupErrorText(err(409, 'conflict', 'this class is already set up: sign in'))).toMatch(/مُعدّ بالفعل/);
    // Anything else falls through to the general refusal texts.
    setLanguage('en', false);
    expect(setupErrorText(err(400, 'bad_request', 'something new'))).toBe('something new');
  });
});
