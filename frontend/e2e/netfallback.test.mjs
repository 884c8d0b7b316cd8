// A network that blocks WebSockets (a school proxy or firewall): a small proxy
// in front of the real server forwards HTTP, streams included, and refuses
// every `Upgrade: websocket`. A student behind it must still chat in real time,
// both ways, each message exactly once, over Server-Sent Events + REST.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Server, addUser, apiSession, launch, newPage, signIn, openConversation, sendMessage, waitForMessage, until, assertClean, shot } from './harness.mjs';

const server = new Server();
let browser;
let proxy;
let proxyUrl;
const seen = { upgrades: 0, streams: 0 };

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  await server.start();
  const admin = await apiSession(server.url, 'prof', 'password');
  for (const [u, n] of [['ines', 'Ines'], ['omar', 'Omar']]) {
    await admin.call('POST', '/users', { username: u, password: 'student-pass-1', display_name: n, role: 'user' });
  }
  const target = new URL(server.url);
  proxy = http.createServer((req, res) => {
    if (req.url.startsWith('/api/v1/events')) seen.streams++;
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  proxy.on('upgrade', (_req, sock) => {
    seen.upgrades++;
    sock.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 19\r\nConnection: close\r\n\r\nwebsockets blocked\n');
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
  browser = await launch();
});

after(async () => {
  await browser?.close();
  proxy?.closeAllConnections?.();
  await new Promise((r) => (proxy ? proxy.close(r) : r()));
  await server.stop();
  server.cleanup();
});

const count = (page, text) => page.getByTestId('message').filter({ hasText: text }).count();

test('a student whose network blocks WebSockets chats in real time over SSE + REST, exactly once', async () => {
  const blocked = await newPage(browser, { tag: 'blocked' });
  const sockets = [];
  blocked.on('websocket', (ws) => sockets.push(ws));
  await signIn(blocked, proxyUrl, 'ines', 'student-pass-1');
  await openConversation(blocked, 'General');
  const open = await newPage(browser, { tag: 'open' });
  await signIn(open, server.url, 'omar', 'student-pass-1');
  await openConversation(open, 'General');

  // The WebSocket was tried and refused; the client moved to the event stream.
  await until(async () => seen.streams >= 1, 'an event stream through the proxy');
  assert.ok(seen.upgrades >= 2, `WebSocket upgrades tried: ${seen.upgrades}`);

  // Blocked → open, and open → blocked, several times, no reload.
  for (let i = 1; i <= 3; i++) {
    await sendMessage(blocked, `from ines ${i}`);
    await waitForMessage(open, `from ines ${i}`);
    await sendMessage(open, `from omar ${i}`);
    await waitForMessage(blocked, `from omar ${i}`);
  }
  // Everything confirmed on both sides, each message once.
  for (const page of [blocked, open]) {
    await until(async () => (await page.getByText('Waiting for connection…').count()) === 0 && (await page.getByText('Sending…').count()) === 0, 'no pending sends');
    for (let i = 1; i <= 3; i++) {
      assert.equal(await count(page, `from ines ${i}`), 1);
      assert.equal(await count(page, `from omar ${i}`), 1);
    }
  }
  const admin = await apiSession(server.url, 'prof', 'password');
  const general = (await admin.call('GET', '/conversations')).conversations.find((c) => c.name === 'General');
  const stored = (await admin.call('GET', `/conversations/${general.id}/messages?after_seq=0&limit=200`)).messages.map((m) => m.body);
  assert.deepEqual(stored.filter((b) => /^from (ines|omar) \d$/.test(b)).length, 6, 'stored exactly once each');
  assertClean(open);
  assertClean(blocked);
});

test('the web app manifest and its icons are served, linked and allowed by the CSP', async () => {
  const html = await (await fetch(server.url + '/')).text();
  assert.match(html, /<link rel="manifest" href="\/manifest.webmanifest"/);
  const res = await fetch(server.url + '/manifest.webmanifest');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/manifest+json');
  // manifest-src falls back to default-src: the server's own origin.
  assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const m = await res.json();
  assert.equal(m.display, 'standalone');
  assert.ok(m.name && m.short_name && m.start_url && m.theme_color && m.background_color);
  const want = new Set(['192x192 any', '512x512 any', '192x192 maskable', '512x512 maskable']);
  for (const icon of m.icons) {
    const r = await fetch(new URL(icon.src, server.url));
    assert.equal(r.status, 200, icon.src);
    assert.equal(r.headers.get('content-type'), 'image/png', icon.src);
    const b = Buffer.from(await r.arrayBuffer());
    assert.equal(b.subarray(1, 4).toString(), 'PNG', icon.src);
    assert.equal(`${b.readUInt32BE(16)}x${b.readUInt32BE(20)}`, icon.sizes, `${icon.src} is ${icon.sizes}`);
    want.delete(`${icon.sizes} ${icon.purpose}`);
  }
  assert.deepEqual([...want], [], 'every icon size and purpose');
  // Chromium itself loads the manifest without a CSP violation or page error.
  const page = await newPage(browser);
  const violations = [];
  page.on('console', (msg) => /Content Security Policy/.test(msg.text()) && violations.push(msg.text()));
  const loaded = page.waitForResponse((r) => r.url().endsWith('/manifest.webmanifest'), { timeout: 15_000 }).catch(() => null);
  await page.goto(server.url + '/');
  await page.getByRole('tab', { name: 'Sign in' }).waitFor();
  const href = await page.evaluate(() => document.querySelector('link[rel=manifest]')?.href);
  assert.equal(href, server.url + '/manifest.webmanifest');
  const mr = await loaded;
  if (mr) assert.equal(mr.status(), 200);
  assert.deepEqual(violations, []);
  assertClean(page);
});

test('the join page and the console say what to try when phones cannot connect', async () => {
  const page = await newPage(browser, { viewport: { width: 420, height: 900 } });
  await page.goto(server.url + '/');
  const help = page.getByTestId('join-network-help');
  await help.getByText("Can't connect from your phone?").click();
  for (const t of ["Stay on the room's Wi-Fi", 'Turn off mobile data', 'Type the numeric address']) await help.getByText(t).waitFor();
  await help.scrollIntoViewIfNeeded();
  await shot(page, 'join-network-help.png');
  assertClean(page);

  const prof = await newPage(browser, { viewport: { width: 1200, height: 1000 } });
  await signIn(prof, server.url, 'prof', 'password');
  await prof.goto(server.url + '/#console');
  const ch = prof.getByTestId('console-network-help');
  for (const t of ['client isolation', 'campus server', 'mobile hotspot']) await ch.getByText(t).waitFor();
  await ch.scrollIntoViewIfNeeded();
  await shot(prof, 'console-network-help.png');
  assertClean(prof);
});
