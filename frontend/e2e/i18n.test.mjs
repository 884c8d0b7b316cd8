// Languages in the browser against the real binary: a whole chat in Arabic (right to
// left, mixed Arabic/English messages both ways, Arabic plurals, a refusal translated by
// its code), the language switch in the account menu remembered after a reload, and the
// German class settings. Screenshots of each go to docs/screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, openConversation, sendMessage, waitForMessage, until, assertClean, signIn } from './harness.mjs';

const server = new Server();
let browser;
let prof; // English, the browser default
let student; // a browser that asks for Arabic
let admin;

const msgWith = (page, text) => page.getByTestId('message').filter({ has: page.getByTestId('body').filter({ hasText: text }) });

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('PATCH', '/settings', { name: 'فيزياء 101' });
  await admin.call('POST', '/users', { username: 'layla', password: 'student-pass-1', display_name: 'ليلى حسن', role: 'user' });

  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  await openConversation(prof, 'General');
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

test('an Arabic browser gets the whole page in Arabic, right to left', async () => {
  student = await newPage(browser, { tag: 'student', locale: 'ar' });
  await student.goto(server.url + '/');
  await until(async () => (await student.evaluate(() => document.documentElement.dir)) === 'rtl', 'dir=rtl on <html>');
  assert.equal(await student.evaluate(() => document.documentElement.lang), 'ar');
  // The join form, in Arabic.
  const tab = student.getByRole('tab', { name: 'تسجيل الدخول' });
  if (await tab.count()) await tab.click();
  await student.getByLabel('اسم المستخدم').fill('layla');
  await student.getByLabel('كلمة المرور').fill('student-pass-1');
  await student.getByRole('button', { name: 'تسجيل الدخول' }).click();
  await student.getByRole('navigation', { name: 'المحادثات' }).waitFor();
  await openConversation(student, 'General');

  // Right to left: the conversation list is on the right of the chat.
  const side = await student.getByRole('navigation', { name: 'المحادثات' }).boundingBox();
  const chat = await student.getByTestId('chat-title').boundingBox();
  assert.ok(side && chat && side.x > chat.x, `sidebar (x=${side?.x}) should be right of the chat (x=${chat?.x})`);
  // Texts from the catalog, with the Arabic dual for two members.
  await student.getByPlaceholder('اكتب رسالة…').waitFor();
  await student.getByRole('main').getByText(/عضوان/).waitFor();
  assertClean(student);
});

test('a chat in Arabic with mixed Arabic and English, both ways', async () => {
  const ar = 'مرحبًا بالجميع، the homework is page 42';
  await sendMessage(student, ar);
  await waitForMessage(prof, 'the homework is page 42');
  const en = 'Welcome Layla! أهلًا وسهلًا';
  await sendMessage(prof, en);
  await waitForMessage(student, 'Welcome Layla!');

  // Each body takes its direction from its own first strong letter (dir="auto"), in any layout.
  const dirOf = (page, text) => msgWith(page, text).getByTestId('body').evaluate((el) => [el.getAttribute('dir'), getComputedStyle(el).direction]);
  assert.deepEqual(await dirOf(student, 'the homework is page 42'), ['auto', 'rtl']);
  assert.deepEqual(await dirOf(student, 'Welcome Layla!'), ['auto', 'ltr']);
  assert.deepEqual(await dirOf(prof, 'the homework is page 42'), ['auto', 'rtl']);
  assert.deepEqual(await dirOf(prof, 'Welcome Layla!'), ['auto', 'ltr']);
  // Names and previews too.
  const preview = student.getByTestId('conversation').filter({ hasText: 'General' }).locator('.preview');
  assert.equal(await preview.getAttribute('dir'), 'auto');
  assert.equal(await prof.getByTestId('message').filter({ hasText: 'the homework' }).locator('.sender').getAttribute('dir'), 'auto');

  // Own messages sit at the inline end (left in Arabic), others' at the start (right).
  const mine = await msgWith(student, 'the homework is page 42').getByTestId('body').boundingBox();
  const theirs = await msgWith(student, 'Welcome Layla!').getByTestId('body').boundingBox();
  assert.ok(mine && theirs && mine.x < theirs.x, 'in RTL the own bubble is on the left, the other on the right');
  await shot(student, 'i18n-arabic-chat-desktop.png');

  await student.setViewportSize({ width: 360, height: 740 });
  await student.getByTestId('chat-title').waitFor();
  await shot(student, 'i18n-arabic-chat-phone.png');
  await student.setViewportSize({ width: 1000, height: 700 });
  assertClean(student);
  assertClean(prof);
});

test("a refusal is shown in Arabic, keyed by the server's code", async () => {
  const general = (await admin.call('GET', '/conversations')).conversations.find((c) => c.name === 'General');
  await admin.call('PATCH', `/conversations/${general.id}`, { slow_mode_seconds: 30 });
  await student.getByTestId('slow-mode').filter({ hasText: 'الوضع البطيء' }).waitFor();
  await sendMessage(student, 'سؤال أول');
  await sendMessage(student, 'سؤال ثانٍ');
  await student.getByTestId('pending').filter({ hasText: 'سؤال ثانٍ' }).filter({ hasText: /لم تُرسَل: الوضع البطيء: انتظر \d+ ث/ }).waitFor();
  await admin.call('PATCH', `/conversations/${general.id}`, { slow_mode_seconds: 0 });
  await student.getByTestId('slow-mode').waitFor({ state: 'detached' });
  await student.getByTestId('pending').filter({ hasText: 'سؤال ثانٍ' }).getByRole('button', { name: 'إعادة المحاولة' }).click();
  await waitForMessage(prof, 'سؤال ثانٍ');
  assertClean(student);
});

test('the language switch in the menu is remembered after a reload', async () => {
  await student.getByRole('button', { name: 'قائمة الحساب' }).click();
  await student.getByRole('menuitemradio', { name: 'Deutsch' }).click();
  await until(async () => (await student.evaluate(() => [document.documentElement.lang, document.documentElement.dir].join())) === 'de,ltr', 'lang=de dir=ltr');
  await student.getByPlaceholder('Nachricht schreiben…').waitFor();
  await student.reload();
  await student.getByRole('navigation', { name: 'Unterhaltungen' }).waitFor();
  assert.equal(await student.evaluate(() => document.documentElement.lang), 'de');
  assert.equal(await student.evaluate(() => localStorage.getItem('teamchat.lang')), 'de');
  await openConversation(student, 'General');
  await student.getByPlaceholder('Nachricht schreiben…').waitFor();
  // And back to Arabic, which the menu marks as chosen.
  await student.getByRole('button', { name: 'Kontomenü' }).click();
  await student.getByRole('menuitemradio', { name: 'العربية' }).click();
  await until(async () => (await student.evaluate(() => document.documentElement.dir)) === 'rtl', 'dir=rtl again');
  await student.getByRole('button', { name: 'قائمة الحساب' }).click();
  assert.equal(await student.getByRole('menuitemradio', { name: 'العربية' }).getAttribute('aria-checked'), 'true');
  await student.keyboard.press('Escape');
  assertClean(student);
});

test('the professor reads the class settings in German', async () => {
  await prof.getByRole('button', { name: 'Account menu' }).click();
  await prof.getByRole('menuitemradio', { name: 'Deutsch' }).click();
  await prof.goto(server.url + '/#settings');
  await prof.getByRole('heading', { name: 'Klasseneinstellungen' }).waitFor();
  await prof.getByRole('button', { name: 'Einstellungen speichern' }).waitFor();
  await prof.getByText('Alle Unterhaltungen pausieren').waitFor();
  await shot(prof, 'i18n-german-settings.png');
  assertClean(prof);
});
