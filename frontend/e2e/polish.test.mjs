// Small things a class notices, in the browser against the real binary: the settings
// confirmation beside its button, the password rule before the first try, the guest
// hint that tells the real lifetime, the search shortcut hint only where there is a
// keyboard (⌘K on a Mac), past sessions newest first in view, the printable transcript
// in the reader's language and zone, and the network help, audit actions and file
// sizes through the catalogs. Screenshots go to docs/screenshots/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, sendMessage, waitForMessage, until, assertClean, SHOTS } from './harness.mjs';

const catalog = (lang) => JSON.parse(readFileSync(new URL(`../src/locales/${lang}.json`, import.meta.url), 'utf8'));
const en = catalog('en');
const de = catalog('de');

const server = new Server();
let browser;
let admin; // the professor's REST session
let prof; // the professor's page, English

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('PATCH', '/settings', { name: 'Physics 101', registration: 'open', guest_access: true, guest_ttl_hours: 24 });
  prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

test('"Settings saved." appears beside the Save button, in view, as a status', async () => {
  await prof.goto(server.url + '/#settings');
  await prof.getByLabel(en.settings.guest_hours).fill('5');
  const save = prof.getByRole('button', { name: en.settings.save_settings });
  await save.click();
  const notice = prof.getByTestId('settings-notice');
  await notice.filter({ hasText: en.settings.saved }).waitFor();
  assert.equal(await notice.getAttribute('role'), 'status');
  // Beside the button: on its line (or just below when wrapped), inside the viewport the button is in.
  const b = await save.boundingBox();
  const n = await notice.boundingBox();
  const vh = prof.viewportSize().height;
  assert.ok(b && n, 'both are laid out');
  assert.ok(Math.abs(n.y + n.height / 2 - (b.y + b.height / 2)) < 60, `notice (y=${n.y}) should sit by the button (y=${b.y})`);
  assert.ok(n.y >= 0 && n.y + n.height <= vh, `notice in view (y=${n.y}, viewport ${vh})`);
  assert.equal((await admin.call('GET', '/settings')).guest_ttl_hours, 5);
  await shot(prof, 'settings-saved-beside-button.png');
  assertClean(prof);
});

test('the password rule shows before the first try: register, the profile and the users page', async () => {
  const page = await newPage(browser, { tag: 'newcomer' });
  await page.goto(server.url + '/');
  await page.getByRole('tab', { name: en.join.tab_register }).click();
  const rule = page.getByTestId('password-rule');
  await rule.filter({ hasText: en.join.password_rule }).waitFor();
  assert.ok(await rule.isVisible(), 'visible before anything is submitted');
  assert.equal(await page.getByLabel(en.join.password).getAttribute('aria-describedby'), await rule.getAttribute('id'));
  assert.equal(await page.getByRole('alert').count(), 0, 'no error shown yet');
  await shot(page, 'join-register-password-rule.png');

  // The rule is what the server enforces: a 7-character password is refused, 8 pass.
  await page.getByLabel(en.join.your_name).fill('Newton');
  await page.getByLabel(en.join.username).fill('newton');
  await page.getByLabel(en.join.password).fill('1234567');
  await page.getByRole('button', { name: en.join.create_account }).click();
  await page.getByRole('alert').waitFor();
  await page.getByLabel(en.join.password).fill('12345678');
  await page.getByRole('button', { name: en.join.create_account }).click();
  await page.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await page.context().close();

  await prof.goto(server.url + '/#users');
  await prof.getByTestId('password-rule').first().filter({ hasText: en.join.password_rule }).waitFor();
  // The profile dialog, where one's own password changes.
  await prof.getByRole('button', { name: 'Account menu' }).click();
  await prof.getByRole('menuitem', { name: 'Profile' }).click();
  const dlg = prof.getByRole('dialog', { name: 'Your profile' });
  const own = dlg.getByTestId('password-rule');
  await own.filter({ hasText: en.join.password_rule }).waitFor();
  assert.equal(await dlg.getByLabel(/New password/).getAttribute('aria-describedby'), await own.getAttribute('id'));
  await shot(prof, 'profile-password-rule.png');
  await dlg.getByRole('button', { name: 'Cancel' }).click();
  await dlg.waitFor({ state: 'detached' });
  assertClean(prof);
});

test('the guest hint tells the lifetime the settings give, and the class session when one runs', async () => {
  const page = await newPage(browser, { tag: 'guest' });
  await page.goto(server.url + '/');
  await page.getByRole('tab', { name: en.join.tab_guest }).click();
  const hint = page.getByTestId('guest-hint');
  await hint.filter({ hasText: 'A guest account lasts 5 hours.' }).waitFor();
  assert.doesNotMatch(await hint.innerText(), /for this class session/);

  await admin.call('PATCH', '/settings', { guest_ttl_hours: 1 });
  await admin.call('POST', '/sessions', { name: 'Lab 1' });
  await page.reload();
  await page.getByRole('tab', { name: en.join.tab_guest }).click();
  await hint.filter({ hasText: 'A guest account lasts until this class session ends, at most 1 hour.' }).waitFor();
  await shot(page, 'join-guest-hint.png');
  const s = await admin.call('GET', '/sessions');
  await admin.call('POST', `/sessions/${s.sessions.find((x) => x.active).id}/end`);
  await admin.call('PATCH', '/settings', { guest_ttl_hours: 24 });
  assertClean(page);
  await page.context().close();
});

test('the search shortcut hint: Ctrl K on a desktop, ⌘K on a Mac, none on a phone', async () => {
  const kbd = (page) => page.getByTestId('search-kbd');
  assert.equal(await kbd(prof).innerText(), 'Ctrl K');
  assert.ok(await kbd(prof).isVisible());

  const mac = await newPage(browser, { tag: 'mac' });
  await mac.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'platform', { get: () => 'MacIntel' });
    Object.defineProperty(Navigator.prototype, 'userAgentData', { get: () => ({ platform: 'macOS', mobile: false, brands: [] }) });
  });
  await signIn(mac, server.url, 'prof', 'password');
  assert.equal(await kbd(mac).innerText(), '⌘K');
  assert.equal(await mac.getByTestId('open-search').getAttribute('aria-keyshortcuts'), 'Meta+K /');
  // ⌘K opens search there.
  await mac.keyboard.press('Meta+K');
  await until(async () => (await mac.evaluate(() => location.hash)).startsWith('#search'), 'search opened by ⌘K');
  await mac.context().close();

  const phone = await newPage(browser, { tag: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn(phone, server.url, 'prof', 'password');
  await phone.getByTestId('open-search').waitFor();
  assert.equal(await kbd(phone).isVisible(), false, 'no keyboard hint on a phone');
  await shot(phone, 'phone-sidebar-no-shortcut-hint.png');
  assertClean(phone);
  await phone.context().close();
});

test('past sessions: the latest in view without a click, newest first, and all a click away', async () => {
  for (const name of ['Week 1', 'Week 2', 'Week 3', 'Week 4']) {
    const s = await admin.call('POST', '/sessions', { name });
    await admin.call('POST', `/sessions/${s.id}/end`);
  }
  await prof.goto(server.url + '/#console');
  const card = prof.getByTestId('session-card');
  const rows = card.getByTestId('past-session');
  await rows.first().waitFor();
  const names = async () => (await rows.locator('strong').allInnerTexts()).map((s) => s.trim());
  assert.deepEqual(await names(), ['Week 4', 'Week 3', 'Week 2']);
  assert.ok(await rows.first().getByRole('link', { name: 'Printable transcript of Week 4' }).isVisible());
  await card.screenshot({ path: `${SHOTS}/console-past-sessions.png` });
  const more = card.getByTestId('past-toggle');
  assert.equal(await more.getAttribute('aria-expanded'), 'false');
  await more.click();
  await until(async () => (await names()).length === 5, 'every past session listed');
  assert.deepEqual(await names(), ['Week 4', 'Week 3', 'Week 2', 'Week 1', 'Lab 1']);
  assertClean(prof);
});

test('a German reader in Tokyo downloads the printable transcript in German and Tokyo time', async () => {
  const stu = await admin.call('POST', '/users', { username: 'grace', password: 'grace-pass-1', display_name: 'Grace', role: 'user' });
  const conv = await admin.call('POST', '/conversations', { name: 'Optics', member_ids: [stu.id] });
  const sent = await admin.call('POST', `/conversations/${conv.id}/messages`, { body: 'Willkommen', client_id: 'p-1' });

  const page = await newPage(browser, { tag: 'prof-de', locale: 'de-DE', timezoneId: 'Asia/Tokyo' });
  await page.goto(server.url + '/');
  await page.getByRole('tab', { name: de.join.tab_signin }).click();
  await page.getByLabel(de.join.username).fill('prof');
  await page.getByLabel(de.join.password).fill('password');
  await page.getByRole('button', { name: de.join.sign_in }).click();
  await openConversation(page, 'Optics');
  await page.getByRole('button', { name: de.chat.settings }).click();
  const link = page.getByTestId('transcript-html');
  const href = await link.getAttribute('href');
  assert.match(href, /[?&]lang=de(&|$)/);
  assert.match(href, /[?&]tz=Asia%2FTokyo(&|$)/);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const html = readFileSync(await download.path(), 'utf8');
  const tokyo = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Tokyo', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
    .format(new Date(sent.created_at))
    .replace(',', '');
  assert.ok(html.includes(`${tokyo} JST`), `Tokyo time ${tokyo} JST in the page`);
  for (const want of ['<html lang="de"', 'Verlauf der Unterhaltung', '(@prof, Lehrkraft)', '1 Nachricht ·']) assert.ok(html.includes(want), `page has ${want}`);
  assert.ok(!html.includes('staff') && !html.includes(' UTC<'), 'no "staff", no UTC times');
  // Look at it as the reader would.
  const view = await newPage(browser, { tag: 'view' });
  await view.setContent(html);
  await shot(view, 'transcript-de-tokyo.png');
  await view.context().close();

  // The audit log names actions in German; the network help too.
  await page.goto(server.url + '/#audit');
  const row = page.locator('[data-testid="audit-row"][data-action="settings.update"]').first();
  await row.getByText(de.audit_action.settings.update).waitFor();
  await page.locator('[data-testid="audit-row"][data-action="session.start"]').first().getByText(de.audit_action.session.start).waitFor();
  await shot(page, 'audit-de.png');
  await page.goto(server.url + '/#console');
  const help = page.getByTestId('console-network-help');
  await help.getByRole('heading', { name: de.nethelp.console_title }).waitFor();
  await help.locator('strong', { hasText: 'Client-Isolation' }).waitFor();
  assertClean(page);
  await page.context().close();
});

test('the join page network help and file sizes follow the language', async () => {
  const page = await newPage(browser, { tag: 'de-student', locale: 'de-DE' });
  await page.goto(server.url + '/');
  const help = page.getByTestId('join-network-help');
  await help.getByText(de.nethelp.join_title).click();
  await help.locator('strong', { hasText: 'Im WLAN des Raums bleiben' }).waitFor();
  await help.locator('code', { hasText: 'http://192.168.1.20:8080' }).waitFor();
  assert.ok(!(await help.innerText()).includes('**'), 'no raw markup');
  await shot(page, 'join-network-help-de.png');

  // A file's size in a message, in German number format.
  await page.getByRole('tab', { name: de.join.tab_signin }).click();
  await page.getByLabel(de.join.username).fill('grace');
  await page.getByLabel(de.join.password).fill('grace-pass-1');
  await page.getByRole('button', { name: de.join.sign_in }).click();
  await openConversation(page, 'Optics');
  await page.getByTestId('composer').waitFor();
  await page.getByTestId('file-input').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.alloc(1536, 'a') });
  await page.getByTestId('upload-tray').getByText(`1,5 kB · ${de.composer.ready}`).waitFor();
  await sendMessage(page, 'Notizen');
  const msg = page.getByTestId('message').filter({ hasText: 'Notizen' });
  await msg.getByText('1,5 kB').waitFor();
  assertClean(page);
  await page.context().close();
});
