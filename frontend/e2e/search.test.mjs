// Search, mentions, notification mutes, the tab title and the new class settings
// (issue 8) in the browser against the real binary. The tests of this file run in
// order and share one server and its pages.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, addUser, apiSession, launch, newPage, shot, signIn, openConversation, until, convItem, assertClean } from './harness.mjs';

const CLASS = 'Physics 101';
const TRICKY = 'Tricky <img src=x onerror=alert(1)> & "quotes" (parens) OR NOT -minus *star';

const server = new Server();
let browser;
let admin; // the professor's REST session
let grace; // a student's REST session (she writes the messages)
let alan; // another student's REST session
let alanPage; // Alan's page: he searches
let gracePage; // Grace's page: she is mentioned
let study; // Grace, Alan and the professor
let secret; // Bob only: Grace is not a member
let lab; // Grace, Alan and the professor: the notifications test
let cafeMsg; // the "Café lecture notes" message

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'grace', 'grace-pass-1', 'user', 'Grace Hopper');
  addUser(server.dataDir, 'alan', 'alan-pass-1', 'user', 'Alan Turing');
  addUser(server.dataDir, 'bob', 'bob-pass-12', 'user', 'Bob Kahn');
  await server.start();
  browser = await launch();
  admin = await apiSession(server.url, 'prof', 'password');
  await admin.call('PATCH', '/settings', { name: CLASS });
  grace = await apiSession(server.url, 'grace', 'grace-pass-1');
  alan = await apiSession(server.url, 'alan', 'alan-pass-1');
  const bob = await apiSession(server.url, 'bob', 'bob-pass-12');
  study = await admin.call('POST', '/conversations', { name: 'Study group', kind: 'group', member_ids: [grace.user.id, alan.user.id] });
  secret = await bob.call('POST', '/conversations', { name: 'Secret club', kind: 'group', member_ids: [] });
  lab = await admin.call('POST', '/conversations', { name: 'Lab', kind: 'group', member_ids: [grace.user.id, alan.user.id] });
  await bob.call('POST', `/conversations/${secret.id}/messages`, { body: 'Café secret plans for the zeppelin', client_id: 'b-1' });

  // Grace writes: the Café message first, then enough others that it is not on the first page.
  cafeMsg = await grace.call('POST', `/conversations/${study.id}/messages`, { body: 'Café lecture notes are in the shared folder', client_id: 'g-cafe' });
  await grace.call('POST', `/conversations/${study.id}/messages`, { body: TRICKY, client_id: 'g-tricky' });
  await grace.call('POST', `/conversations/${study.id}/messages`, { body: 'Unicode: naïve Ünïcödé 日本語 🎉 résumé', client_id: 'g-uni' });
  for (let i = 1; i <= 70; i++) await grace.call('POST', `/conversations/${study.id}/messages`, { body: `filler message number ${i}`, client_id: `g-f${i}` });
  // The same word elsewhere, so the conversation filter has something to remove.
  const general = (await alan.call('GET', '/conversations')).conversations.find((c) => c.name === 'General');
  if (general) await grace.call('POST', `/conversations/${general.id}/messages`, { body: 'cafe opens at noon', client_id: 'g-gen' });
});

after(async () => {
  await browser?.close();
  await server.stop();
  server.cleanup();
});

const results = (page) => page.getByTestId('search-result');
const resultWith = (page, text) => results(page).filter({ hasText: text });

test('Ctrl+K opens search; "cafe" finds "Café" highlighted; the conversation filter narrows it', async () => {
  alanPage = await newPage(browser, { tag: 'alan' });
  await signIn(alanPage, server.url, 'alan', 'alan-pass-1');
  await alanPage.keyboard.press('Control+k');
  const box = alanPage.getByRole('searchbox', { name: 'Search messages' });
  await box.waitFor();
  await until(async () => alanPage.evaluate(() => document.activeElement?.getAttribute('data-testid') === 'search-input'), 'the search box to have focus');
  await alanPage.getByTestId('search-empty').waitFor();

  await box.pressSequentially('cafe', { delay: 30 });
  const hit = resultWith(alanPage, 'lecture notes');
  await hit.waitFor();
  // The match is marked, accents and case ignored; the rest is plain text.
  assert.equal((await hit.locator('mark').first().textContent()).trim().toLowerCase(), 'café');
  assert.match(await hit.textContent(), /Grace Hopper/);
  assert.match(await hit.textContent(), /Study group/);
  await resultWith(alanPage, 'opens at noon').waitFor(); // the same word in General
  await shot(alanPage, 'search.png');

  // Filter by conversation.
  await alanPage.getByTestId('search-conversation').selectOption({ label: 'Study group' });
  await until(async () => (await resultWith(alanPage, 'opens at noon').count()) === 0, 'the General result to go');
  await hit.waitFor();
  // Filter by sender: Alan wrote nothing with "cafe".
  await alanPage.getByTestId('search-sender').selectOption({ label: 'Alan Turing (you)' });
  await alanPage.getByTestId('search-none').waitFor();
  await alanPage.getByRole('button', { name: 'Clear filters' }).click();
  await resultWith(alanPage, 'opens at noon').waitFor();
  await alanPage.getByTestId('search-conversation').selectOption({ label: 'Study group' });
  await until(async () => (await resultWith(alanPage, 'opens at noon').count()) === 0, 'the filter again');

  // Dates: a range that ends yesterday has nothing; one that includes today has it.
  const day = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  const today = new Date();
  await alanPage.getByTestId('search-to').fill(day(new Date(today.getTime() - 86_400_000)));
  await alanPage.getByTestId('search-none').waitFor();
  await alanPage.getByTestId('search-to').fill(day(today));
  await alanPage.getByTestId('search-from').fill(day(today));
  await hit.waitFor();
  assertClean(alanPage);
});

test('clicking a result opens the conversation at the message, highlighted, loading history around it', async () => {
  await resultWith(alanPage, 'lecture notes').click();
  await alanPage.getByTestId('chat-title').filter({ hasText: 'Study group' }).waitFor();
  const target = alanPage.locator(`[data-testid="message"][data-seq="${cafeMsg.seq}"]`);
  await target.waitFor();
  await until(async () => (await target.getAttribute('class'))?.includes('flash'), 'the message to be highlighted');
  await until(async () => {
    const box = await target.boundingBox();
    const log = await alanPage.getByRole('log', { name: 'Messages' }).boundingBox();
    return box && log && box.y >= log.y - 1 && box.y + box.height <= log.y + log.height + 1;
  }, 'the message to be scrolled into view');
  // The history between it and the newest message is there (no gap).
  const seqs = await alanPage.locator('[data-testid="message"][data-seq]').evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  assert.ok(seqs[0] <= cafeMsg.seq, 'loaded down to the message');
  for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1] + 1, 'no gap in the history');
  // Back to search: the query and the results are still there.
  await alanPage.getByTestId('open-search').click();
  assert.equal(await alanPage.getByRole('searchbox', { name: 'Search messages' }).inputValue(), 'cafe');
  await resultWith(alanPage, 'lecture notes').waitFor();
  assertClean(alanPage);
});

test('tricky text is shown as text; operators and quotes are searched, never an error', async () => {
  const box = alanPage.getByRole('searchbox', { name: 'Search messages' });
  await alanPage.getByRole('button', { name: 'Clear filters' }).click();
  await box.fill('onerror');
  const hit = resultWith(alanPage, 'Tricky');
  await hit.waitFor();
  assert.match(await hit.textContent(), /<img src=x onerror=alert\(1\)>/);
  assert.equal(await alanPage.locator('[data-testid="search-result"] img:not([class*="avatar"])').count(), 0, 'no image made from message text');
  assert.equal(await alanPage.locator('img[src="x"]').count(), 0);

  await box.fill('"quoted" OR NOT (x');
  await until(async () => (await alanPage.getByTestId('search-none').count()) + (await results(alanPage).count()) > 0, 'an answer to the operator query');
  assert.equal(await alanPage.getByTestId('search-error').count(), 0, 'no error for FTS operators');
  await box.fill('(parens) OR NOT');
  await until(async () => (await resultWith(alanPage, 'Tricky').count()) > 0 || (await alanPage.getByTestId('search-none').count()) > 0, 'an answer');
  assert.equal(await alanPage.getByTestId('search-error').count(), 0);

  await box.fill('日本語');
  await resultWith(alanPage, 'naïve').waitFor();
  await box.fill('naive unicode');
  await resultWith(alanPage, 'résumé').waitFor();

  // 70 fillers: pages of 30 with "Load more" while the server says has_more.
  await box.fill('filler');
  await until(async () => (await results(alanPage).count()) === 30, 'the first page of 30');
  await alanPage.getByTestId('search-more').click();
  await until(async () => (await results(alanPage).count()) === 60, 'the second page');
  await alanPage.getByTestId('search-more').click();
  await until(async () => (await results(alanPage).count()) === 70, 'all 70');
  await until(async () => (await alanPage.getByTestId('search-more').count()) === 0, 'no more "Load more"');
  const ids = await results(alanPage).evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
  assert.equal(new Set(ids).size, 70, 'each filler once');
  assert.deepEqual(alanPage.dialogs, [], 'no alert ran');
  assertClean(alanPage);
});

test("a student never finds a conversation they are not a member of", async () => {
  gracePage = await newPage(browser, { tag: 'grace' });
  await signIn(gracePage, server.url, 'grace', 'grace-pass-1');
  await gracePage.keyboard.press('/');
  const box = gracePage.getByRole('searchbox', { name: 'Search messages' });
  await box.fill('zeppelin');
  await gracePage.getByTestId('search-none').waitFor();
  await box.fill('secret plans');
  await gracePage.getByTestId('search-none').waitFor();
  assert.equal((await grace.call('GET', '/search?q=zeppelin')).results.length, 0);
  // The professor (admin) sees every conversation.
  const seen = await admin.call('GET', '/search?q=zeppelin');
  assert.equal(seen.results[0]?.conversation_name, 'Secret club');
  // Grace's conversation list offers only her own conversations as a filter.
  const options = await gracePage.getByTestId('search-conversation').locator('option').allTextContents();
  assert.ok(!options.includes('Secret club'), 'no filter for a conversation she is not in');
  assert.ok(options.includes('Study group'));
  assertClean(gracePage);
});

test('a mention shows a badge in the sidebar, counts in the tab title and is in the Mentions view', async () => {
  await openConversation(gracePage, 'General');
  await until(async () => (await gracePage.title()) === CLASS, `the title "${CLASS}" with nothing unread elsewhere (is ${await gracePage.title()})`);
  const mention = await admin.call('POST', `/conversations/${study.id}/messages`, { body: '@grace please check the lecture notes', client_id: 'p-mention' });
  const item = convItem(gracePage, 'Study group');
  await until(async () => (await item.getByTestId('mention-badge').textContent())?.trim() === '@1', 'the @1 badge');
  await until(async () => (await gracePage.getByTestId('mentions-count').textContent())?.trim() === '1', 'the Mentions count');
  assert.equal((await item.getByTestId('unread').textContent()).trim(), '1');
  await until(async () => (await gracePage.title()) === `(1) ${CLASS}`, `the tab title "(1) ${CLASS}" (is "${await gracePage.title()}")`);

  await gracePage.getByTestId('mentions-tab').click();
  const entry = gracePage.getByTestId('mention').filter({ hasText: 'please check the lecture notes' });
  await entry.waitFor();
  assert.match(await entry.textContent(), /Prof\. Ada/);
  assert.match(await entry.textContent(), /Study group/);
  await shot(gracePage, 'mentions.png');

  await entry.click();
  await gracePage.getByTestId('chat-title').filter({ hasText: 'Study group' }).waitFor();
  const target = gracePage.locator(`[data-testid="message"][data-seq="${mention.seq}"]`);
  await until(async () => (await target.getAttribute('class'))?.includes('flash'), 'the mentioned message to be highlighted');
  // Read: the badges go, on screen and on the server.
  await until(async () => (await item.getByTestId('mention-badge').count()) === 0, 'the mention badge to go');
  await until(async () => (await gracePage.getByTestId('mentions-count').count()) === 0, 'the Mentions count to go');
  await until(async () => (await grace.call('GET', '/conversations')).conversations.find((c) => c.id === study.id).unread_mentions === 0, 'unread_mentions 0 on the server');
  await until(async () => (await gracePage.title()) === CLASS, 'the title without a count');
  assertClean(gracePage);
});

test('muting a conversation’s notifications persists after a reload', async () => {
  await openConversation(gracePage, 'General');
  const item = convItem(gracePage, 'Study group');
  await item.hover();
  await gracePage.getByRole('button', { name: 'Options for Study group' }).click();
  await gracePage.getByRole('menuitemcheckbox', { name: 'Mute notifications' }).click();
  await item.getByTestId('muted-icon').waitFor();
  const fromServer = async () => (await grace.call('GET', '/conversations')).conversations.find((c) => c.id === study.id).notifications_muted;
  assert.equal(await fromServer(), true);

  // A muted conversation's unread count is subdued and left out of the title; mentions still count.
  await alan.call('POST', `/conversations/${study.id}/messages`, { body: 'anyone up for the lab?', client_id: 'a-lab' });
  await until(async () => (await item.getByTestId('unread').textContent())?.trim() === '1', 'the unread count');
  assert.match(await item.getByTestId('unread').getAttribute('class'), /subdued/);
  assert.equal(await gracePage.title(), CLASS);

  await gracePage.reload();
  await gracePage.getByRole('navigation', { name: 'Conversations' }).waitFor();
  await convItem(gracePage, 'Study group').getByTestId('muted-icon').waitFor();
  assert.equal(await convItem(gracePage, 'Study group').getAttribute('data-muted'), 'true');

  // And back.
  await convItem(gracePage, 'Study group').hover();
  await gracePage.getByRole('button', { name: 'Options for Study group' }).click();
  await gracePage.getByRole('menuitemcheckbox', { name: 'Unmute notifications' }).click();
  await until(async () => (await convItem(gracePage, 'Study group').getByTestId('muted-icon').count()) === 0, 'the muted icon to go');
  assert.equal(await fromServer(), false);
  assertClean(gracePage);
});

test('browser notifications: asked for from the menu, shown for other conversations, muted ones only for mentions', async () => {
  const page = await newPage(browser, { tag: 'grace-notify' });
  // A recording Notification (headless Chromium shows none): permission starts undecided.
  await page.addInitScript(() => {
    const shown = [];
    let permission = 'default';
    let asked = 0;
    class RecordingNotification {
      constructor(title, options = {}) {
        this.title = title;
        this.body = options.body;
        this.tag = options.tag;
        this.onclick = null;
        shown.push(this);
      }
      close() {}
      static get permission() {
        return permission;
      }
      static async requestPermission() {
        asked++;
        permission = 'granted';
        return permission;
      }
    }
    window.Notification = RecordingNotification;
    window.__notes = () => ({ asked, shown: shown.map((n) => ({ title: n.title, body: n.body })) });
    window.__clickNote = (i) => shown[i].onclick?.({});
  });
  await signIn(page, server.url, 'grace', 'grace-pass-1');
  await openConversation(page, 'General');
  const notes = () => page.evaluate(() => window.__notes());
  assert.equal((await notes()).asked, 0, 'no permission prompt on page load');

  await page.getByRole('button', { name: 'Account menu' }).click();
  await page.getByRole('menuitem', { name: 'Enable notifications' }).click();
  await until(async () => (await notes()).asked === 1, 'the permission request');
  await page.getByRole('button', { name: 'Account menu' }).click();
  await page.getByRole('menuitem', { name: 'Notifications are on' }).waitFor();
  await page.keyboard.press('Escape');

  // Her own message (sent from elsewhere): nothing. Someone else's in another conversation: "New messages in …".
  await grace.call('POST', `/conversations/${lab.id}/messages`, { body: 'my own note from my phone', client_id: 'g-own' });
  await alan.call('POST', `/conversations/${study.id}/messages`, { body: 'new worksheet is up', client_id: 'a-ws' });
  await until(async () => (await notes()).shown.length >= 1, 'a notification');
  assert.deepEqual((await notes()).shown, [{ title: 'Study group', body: 'New messages in Study group' }]);

  // Clicking it opens the conversation.
  await page.evaluate(() => window.__clickNote(0));
  await page.getByTestId('chat-title').filter({ hasText: 'Study group' }).waitFor();
  await openConversation(page, 'General');

  // Muted: plain messages are quiet, a mention still notifies.
  await convItem(page, 'Lab').hover();
  await page.getByRole('button', { name: 'Options for Lab' }).click();
  await page.getByRole('menuitemcheckbox', { name: 'Mute notifications' }).click();
  await convItem(page, 'Lab').getByTestId('muted-icon').waitFor();
  await alan.call('POST', `/conversations/${lab.id}/messages`, { body: 'quiet message', client_id: 'a-quiet' });
  await admin.call('POST', `/conversations/${lab.id}/messages`, { body: '@grace your turn to present', client_id: 'p-turn' });
  await until(async () => (await notes()).shown.length >= 2, 'the mention notification');
  // Only the mention, as it is: her own message and the muted conversation's activity made none.
  assert.deepEqual((await notes()).shown, [
    { title: 'Study group', body: 'New messages in Study group' },
    { title: 'Prof. Ada mentioned you in Lab', body: '@grace your turn to present' },
  ]);
  await convItem(page, 'Lab').hover();
  await page.getByRole('button', { name: 'Options for Lab' }).click();
  await page.getByRole('menuitemcheckbox', { name: 'Unmute notifications' }).click();
  await until(async () => (await convItem(page, 'Lab').getByTestId('muted-icon').count()) === 0, 'unmuted');
  assertClean(page);
  await page.context().close();
});

test('search and mentions work on a 360 px phone', async () => {
  const phone = await newPage(browser, { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await signIn(phone, server.url, 'alan', 'alan-pass-1');
  await phone.getByTestId('open-search').click();
  const box = phone.getByRole('searchbox', { name: 'Search messages' });
  await box.fill('lecture');
  await resultWith(phone, 'Café lecture notes').waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling (overflow ${overflow}px)`);
  await phone.emulateMedia({ colorScheme: 'dark' });
  await shot(phone, 'search-phone.png');
  await phone.emulateMedia({ colorScheme: 'light' });
  await resultWith(phone, 'Café lecture notes').click();
  await phone.getByTestId('chat-title').filter({ hasText: 'Study group' }).waitFor();
  await phone.getByRole('button', { name: 'Back to conversations' }).click();
  await phone.getByTestId('mentions-tab').click();
  await phone.getByTestId('mentions-empty').waitFor();
  assertClean(phone);
  await phone.context().close();
});

test('class settings: edit window and upload limits are validated and saved', async () => {
  const prof = await newPage(browser, { tag: 'prof' });
  await signIn(prof, server.url, 'prof', 'password');
  await prof.goto(server.url + '/#settings');
  const form = prof.getByTestId('limits-form');
  await form.waitFor();
  const save = form.getByRole('button', { name: 'Save limits' });
  const edit = prof.getByTestId('edit-window');
  await edit.fill('2000');
  await form.getByText(/Edit window: enter a whole number from 0 to 1440/).waitFor();
  assert.equal(await save.isDisabled(), true);
  await edit.fill('0');
  await prof.getByTestId('max-upload').fill('101');
  await form.getByText(/from 1 to 100\./).waitFor();
  await prof.getByTestId('max-upload').fill('25');
  await prof.getByTestId('upload-quota').fill('500');
  await save.click();
  await form.getByText('Saved.').waitFor();
  const s = await admin.call('GET', '/settings');
  assert.deepEqual([s.edit_window_minutes, s.max_upload_mib, s.upload_quota_mib], [0, 25, 500]);
  await edit.fill('30');
  await save.click();
  await until(async () => (await admin.call('GET', '/settings')).edit_window_minutes === 30, 'edit window 30 on the server');
  await form.scrollIntoViewIfNeeded();
  await shot(prof, 'settings-limits.png');
  assertClean(prof);
  await prof.context().close();
});
