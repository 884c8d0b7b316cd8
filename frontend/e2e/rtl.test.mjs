// Right-to-left text with ASCII punctuation: every message body, name, preview and the
// composer carry dir="auto", so a Hebrew or Arabic message ends with its "?" or "!" on its
// left and is aligned to the right even in an English (left-to-right) page, and an English
// message stays left-to-right in an Arabic page. Screenshots in both layouts.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, waitForMessage, assertClean } from './harness.mjs';

const server = new Server();
let browser;
let lab;

const HEBREW = 'שלום לכולם, מה השעה?';
const ARABIC = 'هل الواجب جاهز؟ (صفحة 4)!';
const ENGLISH = 'Homework is due Friday (page 4)!';

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  const admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('POST', '/users', { username: 'dana', password: 'student-pass-1', display_name: 'דנה כהן', role: 'user' });
  const dana = await apiSession(server.url, 'dana', 'student-pass-1');
  lab = await admin.call('POST', '/conversations', { name: 'Lab', kind: 'group', member_ids: [dana.user.id] });
  await dana.call('POST', `/conversations/${lab.id}/messages`, { body: HEBREW, client_id: 'r-1' });
  await dana.call('POST', `/conversations/${lab.id}/messages`, { body: ARABIC, client_id: 'r-2' });
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: ENGLISH, client_id: 'r-3' });
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

/** The direction each message body resolves to, by its text. */
function directions(page) {
  return page.getByTestId('body').evaluateAll((els) => Object.fromEntries(els.map((e) => [e.textContent.trim(), { auto: e.getAttribute('dir') === 'auto', rtl: e.matches(':dir(rtl)') }])));
}

for (const [locale, file] of [['en', 'rtl-in-ltr-page.png'], ['ar', 'rtl-in-arabic-page.png']]) {
  test(`Hebrew and Arabic with ASCII punctuation render right to left in a ${locale} page`, async () => {
    const page = await newPage(browser, { locale, viewport: { width: 1100, height: 700 } });
    if (locale === 'en') await signIn(page, server.url, 'prof', 'password');
    else {
      // The Arabic join page, by its own labels.
      await page.goto(server.url + '/');
      const tab = page.getByRole('tab', { name: 'تسجيل الدخول' });
      await tab.waitFor();
      await tab.click();
      await page.getByLabel('اسم المستخدم').fill('prof');
      await page.getByLabel('كلمة المرور').fill('password');
      await page.getByRole('button', { name: 'تسجيل الدخول' }).click();
      await page.getByRole('navigation', { name: 'المحادثات' }).waitFor();
    }
    await page.evaluate((h) => (location.hash = h), `#c/${lab.id}`);
    await waitForMessage(page, ENGLISH);
    const d = await directions(page);
    assert.deepEqual(d[HEBREW], { auto: true, rtl: true });
    assert.deepEqual(d[ARABIC], { auto: true, rtl: true });
    assert.deepEqual(d[ENGLISH], { auto: true, rtl: false });
    // The sender's Hebrew name and the composer resolve by their own text too.
    assert.equal(await page.locator('.sender', { hasText: 'דנה כהן' }).first().evaluate((e) => e.getAttribute('dir') === 'auto' && e.matches(':dir(rtl)')), true);
    const box = page.getByTestId('composer');
    assert.equal(await box.getAttribute('dir'), 'auto');
    await box.fill('תשובה: כן!');
    assert.equal(await box.evaluate((e) => e.matches(':dir(rtl)')), true);
    await shot(page, file);
    await box.fill('');
    assertClean(page);
    await page.context().close();
  });
}
