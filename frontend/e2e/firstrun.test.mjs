// The headless first run in a real browser: `teamchat serve` on an empty data
// directory prints a one-time setup code; the page shows the setup form
// (not sign-in), refuses a wrong code in the reader's language, and with the
// right one creates the class and lands the professor on the console. The
// terminal then prints where students join.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, launch, newPage, shot, until, assertClean } from './harness.mjs';

const server = new Server();
let browser;
const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

before(async () => {
  await server.start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

const codeRE = /^\s+([A-Z2-9]{5}-[A-Z2-9]{5})\s*$/m;

test('first run: setup screen, wrong code refused, setup lands on the console', async () => {
  const code = await until(() => codeRE.exec(server.log)?.[1], 'the setup code in the terminal output');
  assert.match(server.log, /teamchat user add --data/);

  // A German reader's wrong code: refused in German, nothing created.
  const de = await newPage(browser, { tag: 'de', locale: 'de', ...PHONE });
  await de.goto(server.url + '/');
  await de.getByRole('heading', { name: 'Kurs einrichten' }).waitFor();
  await de.getByLabel('Einrichtungscode').fill('ABCDE-FGHJK');
  await de.getByLabel('Name des Kurses').fill('Physik');
  await de.getByLabel('Benutzername').fill('mallory');
  await de.getByLabel('Passwort').fill('a good password');
  await de.getByRole('button', { name: 'Kurs anlegen' }).click();
  const deErr = await de.getByTestId('setup-error').textContent();
  assert.match(deErr, /Einrichtungscode stimmt nicht/);
  assertClean(de);
  await de.context().close();

  const page = await newPage(browser, { tag: 'prof', ...PHONE });
  await page.goto(server.url + '/');
  await page.getByRole('heading', { name: 'Set up your class' }).waitFor();
  assert.equal(await page.getByRole('tab', { name: 'Sign in' }).count(), 0, 'no sign-in on the first run');
  // The password rule is shown before any submit.
  assert.match(await page.getByTestId('setup-password-rule').textContent(), /At least 8 characters/);
  await shot(page, 'setup-phone-light.png');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shot(page, 'setup-phone-dark.png');
  await page.emulateMedia({ colorScheme: 'light' });

  // The form's own check: a short password, said before asking the server.
  await page.getByLabel('Setup code').fill(code.toLowerCase().replace('-', ' '));
  await page.getByLabel('Class name').fill('Physics 101');
  await page.getByLabel('Your name').fill('Prof. Ada Lovelace');
  await page.getByLabel('Username').fill('ada');
  await page.getByLabel('Password').fill('short');
  await page.getByRole('button', { name: 'Create the class' }).click();
  assert.match(await page.getByTestId('setup-error').textContent(), /too short: at least 8 characters/);
  await page.getByTestId('setup-error').scrollIntoViewIfNeeded();
  await shot(page, 'setup-phone-error.png');

  await page.getByLabel('Password').fill('a good password');
  await page.getByRole('button', { name: 'Create the class' }).click();
  // Signed in as the professor, on the console, with the class's name and code.
  await page.getByRole('heading', { name: 'Physics 101', level: 1 }).waitFor();
  await page.getByTestId('qr').waitFor();
  assert.match(page.url(), /#console$/);
  const joinCode = (await page.getByTestId('console-code').textContent()).trim();
  assert.match(joinCode, /^[A-Z0-9-]{4,32}$/);
  // The terminal says how students join.
  await until(() => server.log.includes(`?code=${joinCode}`), 'the next step in the terminal');
  assert.match(server.log, /Class "Physics 101" is set up; professor "ada" is signed in/);
  // A reload keeps the session (the cookie, as after sign-in).
  await page.reload();
  await page.getByTestId('qr').waitFor();
  assertClean(page);

  // Anyone else now gets sign-in, and the setup is refused.
  const other = await newPage(browser, { tag: 'other' });
  await other.goto(server.url + '/');
  await other.getByRole('tab', { name: 'Sign in' }).waitFor();
  assert.equal(await other.getByRole('heading', { name: 'Set up your class' }).count(), 0);
  const again = await fetch(server.url + '/api/v1/setup', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ setup_code: code, class_name: 'X', username: 'eve', password: 'a good password' }),
  });
  assert.equal(again.status, 409);
  assertClean(other);
});
