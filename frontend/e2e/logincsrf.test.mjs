// Login CSRF in a real browser: a page on another site posts a text/plain
// form whose body is valid JSON to POST /api/v1/session. The server must not
// sign the visitor into the attacker's account; the page's own sign-in form
// still works in the same browser afterwards.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Server, addUser, launch, signIn } from './harness.mjs';

// The attacker's account has a password ending in "=": the form's one field is
// named `{"username":"mallory","password":"…` with the value `"}`, and a
// text/plain form joins them with "=".
const MALLORY_PW = 'correct horse battery=';
const server = new Server();
let browser;
let evil;
let evilURL;

before(async () => {
  addUser(server.dataDir, 'prof', 'password', 'admin', 'Prof. Ada');
  addUser(server.dataDir, 'mallory', MALLORY_PW, 'user', 'Mallory');
  await server.start();
  browser = await launch();
  const name = JSON.stringify({ username: 'mallory', password: MALLORY_PW.slice(0, -1) }).slice(0, -2);
  const page = `<!doctype html><meta charset="utf-8"><title>free pizza</title>
<form id="f" method="post" enctype="text/plain" action="${server.url}/api/v1/session">
<input type="hidden" name='${name.replaceAll("'", '&#39;')}' value='"}'>
</form><script>document.getElementById('f').submit()</script>`;
  evil = createServer((_, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  await new Promise((r) => evil.listen(0, '127.0.0.1', r));
  // "localhost" is another site than 127.0.0.1 for the browser.
  evilURL = `http://localhost:${evil.address().port}/`;
});

after(async () => {
  await browser?.close();
  evil?.close();
  await server.stop();
  server.cleanup();
});

test('a cross-site text/plain form does not sign the browser in', async () => {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  const answer = page.waitForResponse((r) => r.url() === server.url + '/api/v1/session' && r.request().method() === 'POST');
  await page.goto(evilURL);
  const res = await answer;
  const req = res.request();
  assert.equal((await req.headerValue('content-type'))?.split(';')[0], 'text/plain', 'the browser posted text/plain');
  assert.equal(JSON.parse(req.postData() ?? 'null')?.username, 'mallory', 'the body was valid JSON');
  assert.equal(res.status(), 403, `cross-site form answered ${res.status()}: ${await res.text()}`);
  assert.equal((await res.json()).error.code, 'forbidden');
  const cookies = await ctx.cookies(server.url);
  assert.deepEqual(cookies.filter((c) => c.name === 'teamchat_session'), [], 'no session cookie was set');
  const me = await page.evaluate(async (u) => (await fetch(u + '/api/v1/session', { credentials: 'include' })).status, server.url).catch(() => null);
  assert.notEqual(me, 200, 'the browser has no session');

  // The same browser signs in through the page's own form (application/json, own Origin).
  await signIn(page, server.url, 'prof', 'password');
  assert.equal((await ctx.cookies(server.url)).filter((c) => c.name === 'teamchat_session').length, 1);
  await ctx.close();
});
